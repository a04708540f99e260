import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { fixedClock, systemClock } from '../domain/clock.js';
import { AliyunSmsChannel } from '../notify/customers/aliyun-sms.js';
import { startDaemon } from '../worker/daemon.js';
import { createDeps } from '../worker/deps.js';
import { replayRefusal } from '../worker/heartbeat.js';
import { startHttp } from '../worker/http.js';
import { createLogger } from '../worker/logger.js';
import { startDingtalkFake } from './fakes/dingtalk-server.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { cli, cliDatabase } from './helpers/cli.js';
import { testConfig } from './helpers/config.js';

const silent = () => createLogger('silent', { pretty: false });
const yamlFile = (obj: unknown) => {
  const file = join(mkdtempSync(join(tmpdir(), 'pw-safety-')), 'config.yaml');
  writeFileSync(file, stringify(obj));
  return file;
};

describe('config check and start refuse unsafe or useless channels', () => {
  let env: Record<string, string>;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    ({ env, drop } = await cliDatabase());
  });
  afterAll(() => drop());

  it('exit 2 naming each key: SMS without credentials, robot URLs without key, an open API without token', { timeout: 180_000 }, async () => {
    const file = yamlFile({
      outreach: { channels: { wecom: { enabled: true, url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send' } } },
      chases: { channels: { sms: { enabled: true, signName: '店铺' } } },
    });
    const bad = { ...env, PARCELWATCH_CONFIG: file, PARCELWATCH_HTTP_HOST: '0.0.0.0' };
    for (const cmd of [['config', 'check'], ['start']]) {
      const r = await cli(cmd, bad);
      expect(r.code, `${cmd.join(' ')}: ${r.stderr}`).toBe(2);
      for (const key of [
        'chases.channels.sms.accessKeyId',
        'chases.channels.sms.accessKeySecret',
        'chases.channels.sms.templateCodes.hubMoved',
        'outreach.channels.wecom.url',
        'http.apiToken',
      ]) {
        expect(r.stderr).toContain(`[${key}]`);
      }
      expect(r.stderr).not.toContain('[chases.channels.sms.signName]');
      expect(r.stdout).not.toMatch(/config OK|started/);
    }
  });
});

describe('chase registration policy', () => {
  let app: TestApp;
  let base: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    app = await createTestApp({
      chases: { channels: { webhook: { enabled: true, url: 'http://127.0.0.1:9/customer', secret: 'customer-secret' } } },
    });
    await app.addOrders([
      {
        orderId: 'P1',
        paidAt: '2026-11-11T00:05:00+08:00',
        amount: 10,
        customer: { name: '王芳', phone: '13800138000', handle: 'wangfang88' },
        shipments: [{ carrier: 'ZTO', trackingNo: 'ZT800000001', markedShippedAt: '2026-11-11T10:00:00+08:00' }],
      },
    ]);
    const http = await startHttp(app.deps, { check: async () => 'ok' as const }, async () => {}, { port: 0 });
    base = `http://127.0.0.1:${http.port}`;
    close = async () => {
      await http.close();
      await app.close();
    };
  });
  afterAll(() => close());

  const post = async (body: unknown) => {
    const res = await fetch(`${base}/api/chases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as any };
  };

  it('refuses a channel that is not enabled, with the reason (422)', async () => {
    const r = await post({ orderId: 'P1', channel: 'sms' });
    expect(r.status).toBe(422);
    expect(r.json.error).toBe('channel sms is not enabled (chases.channels.sms.enabled is false; enabled: webhook): the chase could never notify');
    expect(await app.deps.sql`select 1 from chases`).toHaveLength(0);
  });

  it("accepts only the order's customer as contact (403 otherwise); the override lets others through", async () => {
    const stranger = await post({ orderId: 'P1', contact: '13912345678' });
    expect(stranger.status).toBe(403);
    expect(stranger.json.error).toMatch(/contact 13912345678 is not the customer of the order of ZT800000001.*chases\.allowOtherContacts/);
    expect(await app.deps.sql`select 1 from chases`).toHaveLength(0);
    // The customer's own number, however written, and the customer's handle are fine.
    expect((await post({ orderId: 'P1', contact: '+86 138-0013-8000' })).status).toBe(201);
    expect((await post({ trackingNo: 'ZT800000001', contact: 'wangfang88' })).status).toBe(201);

    const open = await createDeps(testConfig({ databaseUrl: app.db.url, prefix: app.prefix, overrides: { ...app.config, chases: { ...app.config.chases, allowOtherContacts: true } } }), app.clock, silent());
    const http = await startHttp(open.deps, { check: async () => 'ok' as const }, async () => {}, { port: 0 });
    try {
      const res = await fetch(`http://127.0.0.1:${http.port}/api/chases`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ orderId: 'P1', contact: '13912345678' }),
      });
      expect(res.status).toBe(201);
    } finally {
      await http.close();
      await open.db.close();
    }
  });

  it('the CLI refuses the same way', { timeout: 120_000 }, async () => {
    const env = { DATABASE_URL: app.db.url, PARCELWATCH_CONFIG: '', PARCELWATCH_QUEUE_PREFIX: app.prefix };
    const r = await cli(['chases', 'add', '--order', 'P1', '--channel', 'sms'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/channel sms is not enabled/);
  });
});

describe('run-once --now far from wall time on a live database', () => {
  let env: Record<string, string>;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    ({ env, drop } = await cliDatabase());
  });
  afterAll(() => drop());

  it('is refused while a scheduler heartbeats, unless --force; allowed once it stops', { timeout: 300_000 }, async () => {
    const config = loadConfig({ env });
    const daemon = await startDaemon({ config, clock: systemClock, log: silent(), role: 'scheduler' });
    const future = new Date(Date.now() + 3 * 86_400_000).toISOString();
    try {
      const r = await cli(['run-once', '--now', future], env);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(/^refused: run-once --now .* min ahead of wall time \(replay\.maxSkewMinutes 10\) and a daemon runs against this database: scheduler /);
      expect(r.stdout).toBe('');
      const forced = await cli(['run-once', '--now', future, '--force', '--json'], env);
      expect(forced.code, forced.stderr).toBe(0);
      expect(JSON.parse(forced.stdout).ok).toBe(true);

      // Both directions; within the skew a replay beside the daemon is fine.
      const cfg = config.replay;
      expect(await replayRefusal(daemon.deps.sql, new Date(Date.now() - 30 * 86_400_000), cfg)).toMatch(/min behind wall time/);
      expect(await replayRefusal(daemon.deps.sql, new Date(Date.now() + 5 * 60_000), cfg)).toBeNull();
    } finally {
      await daemon.stop();
    }
    const check = await createDeps(config, systemClock, silent());
    try {
      expect(await replayRefusal(check.deps.sql, new Date(future), config.replay)).toBeNull();
    } finally {
      await check.db.close();
    }
  });
});

describe('transport timestamps use wall time whatever the injected clock says', () => {
  const PAST = '2026-11-11T10:00:00+08:00';

  it('the DingTalk robot accepts a message sent by a replay weeks in the past', async () => {
    const robot = await startDingtalkFake({ accessToken: 'tok', secret: 'SECwall' });
    const { deps, db } = await createDeps(
      loadConfig({ env: {}, overrides: { outreach: { channels: { dingtalk: { enabled: true, url: `${robot.url}/robot/send?access_token=tok`, secret: 'SECwall' } } } } }),
      fixedClock(PAST),
      silent(),
    );
    try {
      const task = {
        id: 1, orderId: 'T1', platform: 'taobao', type: 'late_shipment', severity: 'warning', priority: 160, status: 'open', agent: null,
        dueBy: '2026-11-11T12:00:00.000Z', overdue: false, reason: 'r', script: 's', customer: { name: 'n', phone: '13800138000', handle: null },
        carrier: null, trackingNo: null, lastEvent: null, lastHub: null, exceptions: [], cancelReason: null,
      };
      await deps.agentChannels[0]!.send('outreach.created', task as never, 'k');
      expect(robot.rejected()).toEqual([]);
      expect(robot.accepted()).toHaveLength(1);
      expect(Math.abs(robot.accepted()[0]!.timestamp! - Date.now())).toBeLessThan(600_000);
    } finally {
      await db.close();
      await robot.close();
    }
  });

  it('the SMS request Timestamp is wall time', async () => {
    const { deps, db } = await createDeps(
      loadConfig({
        env: {},
        overrides: {
          chases: {
            channels: {
              sms: { enabled: true, accessKeyId: 'id', accessKeySecret: 'sec', signName: '店', templateCodes: { hubMoved: 'A', outForDelivery: 'B', delivered: 'C' } },
            },
          },
        },
      }),
      fixedClock(PAST),
      silent(),
    );
    try {
      const sms = deps.customerChannels.get('sms') as AliyunSmsChannel;
      const params = sms.buildParams({
        event: 'customer.hub_moved', notificationId: 1, idempotencyKey: 'k', orderId: 'O', trackingNo: 'T', carrier: 'ZTO', hub: 'h',
        occurredAt: PAST, message: 'm', contact: '13800138000', params: {},
      } as never);
      expect(Math.abs(Date.parse(params.Timestamp!) - Date.now())).toBeLessThan(600_000);
    } finally {
      await db.close();
    }
  });
});
