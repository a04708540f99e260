import type { JobDefinition } from './define-job.js';
import { detectCarrier } from './detect-carrier.js';
import { detectExceptions } from './detect-exceptions.js';
import { planPolls } from './plan-polls.js';
import { pollTracking } from './poll-tracking.js';
import { syncOutreachJob } from './sync-outreach.js';
import { deliverOutreach } from './deliver-outreach.js';
import { notifyChasersJob } from './notify-chasers.js';
import { sendCustomerMessage } from './send-customer-message.js';
import { sendNotifications } from './send-notifications.js';
import { retention } from './retention.js';
import { refreshNormsJob } from './refresh-norms.js';
import { planSubscriptions } from './plan-subscriptions.js';
import { subscribeTracking } from './subscribe-tracking.js';

/** Every job the daemon knows. `as const` is load-bearing: names are checked at startup. */
export const jobs = [planPolls, pollTracking, detectCarrier, detectExceptions, syncOutreachJob, deliverOutreach, notifyChasersJob, sendCustomerMessage, sendNotifications, refreshNormsJob, planSubscriptions, subscribeTracking, retention] as const satisfies readonly JobDefinition[];

export function jobByName(name: string): JobDefinition {
  const job = (jobs as readonly JobDefinition[]).find((j) => j.name === name);
  if (!job) throw new Error(`unknown job ${name}`);
  return job;
}

/** Startup check: duplicate names are a programming error that must stop the process. */
export function assertJobRegistry(): void {
  const seen = new Set<string>();
  for (const j of jobs as readonly JobDefinition[]) {
    if (seen.has(j.name)) throw new Error(`duplicate job name ${j.name}`);
    seen.add(j.name);
  }
}

/** Scheduled jobs in cycle order (run-once runs them in this order). */
export function scheduledJobs(): JobDefinition[] {
  return (jobs as readonly JobDefinition[]).filter((j) => j.schedule).sort((a, b) => (a.cycleOrder ?? 0) - (b.cycleOrder ?? 0));
}
