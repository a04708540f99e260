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
    eventsUnclassified: new Counter({
      name: 'parcelwatch_events_unclassified_total',
      help: 'New tracking events stored with status unknown (no text rule or provider code matched); list them with `parcelwatch events unclassified`',
      labelNames: ['provider', 'carrier'],
      registers: [registry],
    }),
    carrierDetections: new Counter({
      name: 'parcelwatch_carrier_detections_total',
      help: 'Parcels whose carrier was detected from the number (result detected|duplicate) or that no provider recognised (unrecognised: an ops alert)',
      labelNames: ['provider', 'result'],
      registers: [registry],
    }),
    quarantined: new Counter({ name: 'parcelwatch_replies_quarantined_total', help: 'Malformed replies stored raw', labelNames: ['provider', 'kind'], registers: [registry] }),
    exceptions: new Counter({ name: 'parcelwatch_exceptions_total', help: 'Exception transitions', labelNames: ['type', 'action'], registers: [registry] }),
    ordersIngested: new Counter({ name: 'parcelwatch_orders_ingested_total', help: 'Orders accepted', labelNames: ['source'], registers: [registry] }),
    ordersRejected: new Counter({ name: 'parcelwatch_orders_rejected_total', help: 'Orders rejected', labelNames: ['source'], registers: [registry] }),
    detectionQuarantined: new Counter({ name: 'parcelwatch_detection_quarantined_total', help: 'Subjects a detection sweep set aside because their data cannot be judged', registers: [registry] }),
    outreach: new Counter({ name: 'parcelwatch_outreach_total', help: 'Outreach task transitions', labelNames: ['action'], registers: [registry] }),
    deliveries: new Counter({ name: 'parcelwatch_channel_deliveries_total', help: 'Channel deliveries', labelNames: ['channel', 'result'], registers: [registry] }),
    retentionRows: new Counter({ name: 'parcelwatch_retention_rows_total', help: 'Rows removed (or thinned: raw JSON cleared) by the retention job', labelNames: ['table', 'action'], registers: [registry] }),
    circuitOpen: new Gauge({ name: 'parcelwatch_provider_circuit_open', help: '1 while the provider\'s circuit breaker is open or half open', labelNames: ['provider'], registers: [registry] }),
    circuitTransitions: new Counter({ name: 'parcelwatch_provider_circuit_transitions_total', help: 'Circuit breaker state changes', labelNames: ['provider', 'to'], registers: [registry] }),
    pushesReceived: new Counter({ name: 'parcelwatch_pushes_received_total', help: 'Provider pushes acknowledged (stored), by provider', labelNames: ['provider'], registers: [registry] }),
    pushesRejected: new Counter({
      name: 'parcelwatch_pushes_rejected_total',
      help: 'Provider pushes (or push items) refused, by reason: unsigned, bad_signature, malformed, too_large, wrong_type, not_configured, item_malformed, store_failed',
      labelNames: ['provider', 'reason'],
      registers: [registry],
    }),
    pushOrphans: new Counter({ name: 'parcelwatch_push_orphans_total', help: 'Push items for tracking numbers we do not track (acknowledged, recorded in push_orphans)', labelNames: ['provider'], registers: [registry] }),
    pushStoreSeconds: new Histogram({
      name: 'parcelwatch_push_to_stored_seconds',
      help: 'From a push request arriving to its events being committed',
      labelNames: ['provider'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    subscribeRequests: new Counter({ name: 'parcelwatch_subscribe_requests_total', help: 'Subscription requests by provider and reply code', labelNames: ['provider', 'code'], registers: [registry] }),
    subscriptions: new Gauge({ name: 'parcelwatch_subscriptions', help: 'Shipment subscriptions by provider and state (refreshed by plan-subscriptions)', labelNames: ['provider', 'state'], registers: [registry] }),
    fallbackPolling: new Gauge({
      name: 'parcelwatch_push_fallback_shipments',
      help: 'Undelivered shipments of push-mode providers polled because their subscription failed or their pushes went silent (refreshed by plan-subscriptions)',
      labelNames: ['provider'],
      registers: [registry],
    }),
    pollFailing: new Gauge({
      name: 'parcelwatch_poll_failing_shipments',
      help: 'Shipments still polled whose last poll job(s) failed for good (poll_failures > 0): polled alone and, failing alone, backed off up to 24 h (refreshed by plan-polls)',
      labelNames: ['provider'],
      registers: [registry],
    }),
    fallbackPolls: new Counter({ name: 'parcelwatch_push_fallback_polls_total', help: 'Polls planned for push-mode shipments, by why (silent, unsubscribed, deadline)', labelNames: ['provider', 'why'], registers: [registry] }),
    overdueTasks: new Gauge({ name: 'parcelwatch_outreach_overdue', help: 'Open outreach tasks past due', registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
