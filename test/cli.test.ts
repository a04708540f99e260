import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliDatabase } from './helpers/cli.js';

describe('parcelwatch CLI', () => {
  let env: Record<string, string>;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    ({ env, drop } = await cliDatabase());
  });
  afterAll(() => drop());

  it('config check prints the effective config with secrets redacted', async () => {
    const r = await cli(['config', 'check'], { ...env, KUAIDI100_KEY: 'very-secret' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/# config OK/);
    expect(r.stdout).not.toContain('very-secret');
  });

  it('invalid config stops with exit code 2 naming the key', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pwcli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'rules:\n  stalled:\n    noEventHours: -4\n  nosuchrule: {}\n');
    for (const cmd of [['config', 'check'], ['start']]) {
      const r = await cli(cmd, { ...env, PARCELWATCH_CONFIG: file });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/\[rules\.stalled\.noEventHours\]/);
      expect(r.stderr).toMatch(/\[rules\.nosuchrule\] unknown key/);
    }
  });

  it('imports orders and runs one cycle at a given instant, with a JSON summary', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pwcli-'));
    const file = join(dir, 'orders.ndjson');
    writeFileSync(
      file,
      [
        JSON.stringify({ orderId: 'N1', paidAt: '2026-11-11T00:05:00+08:00', amount: 50, shipments: [{ carrier: '中通', trackingNo: 'PW00000001', markedShippedAt: '2026-11-11T08:00:00+08:00' }] }),
        '{"orderId": "N2", "paidAt": ',
        JSON.stringify({ orderId: 'N3', paidAt: '2026-11-11T00:05:00+08:00', amount: 800 }),
      ].join('\n'),
    );
    const imp = await cli(['import', 'orders', file], env);
    expect(imp.code).toBe(3);
    expect(imp.stdout).toMatch(/read 3 rows; orders: 2 stored \(new or changed\), 0 unchanged; 1 new parcels; 1 rejected/);
    const r = await cli(['run-once', '--now', '2026-11-14T09:00:00+08:00', '--json'], env);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(summary.ok).toBe(true);
    expect(summary.now).toBe('2026-11-14T01:00:00.000Z');
    expect(summary.totals.polled).toBe(1);
    expect(summary.totals['opened.late_shipment']).toBeGreaterThanOrEqual(1);
    const list = await cli(['exceptions', '--format', 'csv'], env);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^orderId,type,severity/);
    expect(list.stdout).toMatch(/N3,late_shipment,breach/);
  });

  it('run-once without --now is a usage error', async () => {
    const r = await cli(['run-once'], env);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/--now/);
  });
});
