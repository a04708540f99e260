import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** All Prometheus metrics of one process, created once in deps. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'parcelwatch_' });
  const m = {
    registry,
    jobsTotal: new Counter({ name: 'parcelwatch_jobs_total', help: 'Jobs processed', labelNames: ['job', 'result'], registers: [registry] }),
    jobSeconds: new Histogram({ name: 'parcelwatch_job_seconds', help: 'Job duration', labelNames: ['job'], registers: [registry] }),
    pollsTotal: new Counter({ name: 'parcelwatch_polls_total', help: 'Tracking numbers polled', labelNames: ['provider', 'result'], registers: [registry] }),
    providerRequests: new Counter({ name: 'parcelwatch_provider_requests_total', help: 'Provider calls', labelNames: ['provider', 'result'], registers: [registry] }),
    eventsIngested: new Counter({ name: 'parcelwatch_events_ingested_total', help: 'New tracking events stored', labelNames: ['provider'], registers: [registry] }),
    quarantined: new Counter({ name: 'parcelwatch_replies_quarantined_total', help: 'Malformed replies stored raw', labelNames: ['provider', 'kind'], registers: [registry] }),
    exceptions: new Counter({ name: 'parcelwatch_exceptions_total', help: 'Exception transitions', labelNames: ['type', 'action'], registers: [registry] }),
    ordersIngested: new Counter({ name: 'parcelwatch_orders_ingested_total', help: 'Orders accepted', labelNames: ['source'], registers: [registry] }),
    ordersRejected: new Counter({ name: 'parcelwatch_orders_rejected_total', help: 'Orders rejected', labelNames: ['source'], registers: [registry] }),
    outreach: new Counter({ name: 'parcelwatch_outreach_total', help: 'Outreach task transitions', labelNames: ['action'], registers: [registry] }),
    deliveries: new Counter({ name: 'parcelwatch_channel_deliveries_total', help: 'Channel deliveries', labelNames: ['channel', 'result'], registers: [registry] }),
    retentionRows: new Counter({ name: 'parcelwatch_retention_rows_total', help: 'Rows removed (or thinned: raw JSON cleared) by the retention job', labelNames: ['table', 'action'], registers: [registry] }),
    overdueTasks: new Gauge({ name: 'parcelwatch_outreach_overdue', help: 'Open outreach tasks past due', registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
