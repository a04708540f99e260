import type { Logger } from 'pino';
import { createProviders } from '../carriers/index.js';
import type { Config } from '../config/schema.js';
import { createDb, type DbHandle } from '../db/client.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { Deps } from '../jobs/define-job.js';
import { createMetrics } from './metrics.js';
import { createAgentChannels } from '../notify/agents/index.js';
import { createCustomerChannels } from '../notify/customers/index.js';

/** Build the one Deps object of a process. */
export async function createDeps(config: Config, clock: Clock, log: Logger): Promise<{ deps: Deps; db: DbHandle }> {
  const db = await createDb({ url: config.database.url, poolSize: config.database.poolSize, statementTimeoutMs: config.database.statementTimeoutMs });
  const deps: Deps = {
    config,
    clock,
    log,
    sql: db.sql,
    providers: createProviders(config, { clock }),
    metrics: createMetrics(),
    // Channels get wall time, never the injected clock: their clock stamps transport (DingTalk's signed
    // timestamp, Alibaba SMS's Timestamp, sentAt, Retry-After dates), which the receiver checks against
    // its own wall clock, so a `run-once --now` in the past would otherwise be refused (310000 sign not match).
    agentChannels: createAgentChannels(config, systemClock),
    customerChannels: createCustomerChannels(config, systemClock),
  };
  return { deps, db };
}
