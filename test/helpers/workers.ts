import type { Deps } from '../../jobs/define-job.js';
import { createLogger } from '../../worker/logger.js';
import { RedisConnections } from '../../worker/redis.js';
import { QueueRuntime } from '../../worker/runtime.js';
import { TEST_REDIS_URL } from './services.js';

/** BullMQ workers for `deps` on the test Redis (the app's prefix); `close` stops them and their connections. */
export function startTestWorkers(deps: Deps): { runtime: QueueRuntime; connections: RedisConnections; close(): Promise<void> } {
  const connections = new RedisConnections(TEST_REDIS_URL, createLogger('silent', { pretty: false }));
  const runtime = new QueueRuntime(deps, connections);
  runtime.startWorkers();
  return {
    runtime,
    connections,
    async close() {
      await runtime.close();
      await connections.quitAll();
    },
  };
}
