import { Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import type { Deps } from '../jobs/define-job.js';
import { messageFollowUp } from '../jobs/send-customer-message.js';
import { createLogger } from '../worker/logger.js';
import { RedisConnections } from '../worker/redis.js';
import { QueueRuntime } from '../worker/runtime.js';
import { testConfig } from './helpers/config.js';
import { dropPrefix, uniquePrefix } from './helpers/redis.js';
import { TEST_REDIS_URL } from './helpers/services.js';

/*
 * The notifications queue carries both the jobs that find what to tell chasers (notify-chasers) and the
 * messages they create (send-customer-message). In FIFO order a hub move waited for the queue twice; the
 * messages are prioritized, so a notify-chasers job enqueued behind a backlog of messages runs next.
 */
describe('notifications queue order', () => {
  const prefix = uniquePrefix();
  afterAll(() => dropPrefix(prefix));

  it('runs a notify-chasers job before customer messages queued earlier', async () => {
    const config = testConfig({ databaseUrl: 'postgres://unused', prefix });
    const connections = new RedisConnections(TEST_REDIS_URL, createLogger('silent', { pretty: false }));
    const runtime = new QueueRuntime({ config } as unknown as Deps, connections);
    const worker = new Worker('notifications', null, { connection: connections.create('worker'), prefix, autorun: false });
    try {
      await runtime.enqueue([1, 2, 3].map((id) => messageFollowUp(id, 0)));
      await runtime.enqueue([{ job: 'notify-chasers', payload: { shipmentIds: [7] }, jobId: 'chasers-7' }]);
      const order: string[] = [];
      for (let i = 0; i < 4; i++) {
        const job = await worker.getNextJob('test-token');
        expect(job).toBeDefined();
        order.push(job!.name);
        await job!.moveToCompleted('done', 'test-token', false);
      }
      expect(order).toEqual(['notify-chasers', 'send-customer-message', 'send-customer-message', 'send-customer-message']);
    } finally {
      await worker.close();
      await runtime.close();
      await connections.quitAll();
    }
  });
});
