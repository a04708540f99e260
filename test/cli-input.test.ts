import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttp } from '../worker/http.js';
import { createTestApp } from './helpers/app.js';
import { cli, cliDatabase } from './helpers/cli.js';

/** A usage error: exit 64, the reason and the usage on stderr, nothing on stdout, no stack trace. */
function expectUsage(r: { code: number; stdout: string; stderr: string }, reason: RegExp) {
  expect(r.code, r.stderr).toBe(64);
  expect(r.stderr).toMatch(reason);
  expect(r.stderr).toMatch(/parcelwatch <command>/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).toBe('');
}

describe('CLI argument validation', () => {
  let env: Record<string, string>;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    ({ env, drop } = await cliDatabase());
  });
  afterAll(() => drop());

  it('exceptions refuses bad --type, --status, --format and --limit with a usage message', { timeout: 120_000 }, async () => {
    const cases: [string[], RegExp][] = [
      [['--type', 'bogus'], /--type must be one of late_shipment\|/],
      [['--status', 'nope'], /--status must be one of open\|resolved/],
      [['--format', 'xml'], /--format must be one of table\|csv\|json/],
      [['--limit', 'abc'], /--limit must be a whole number from 1 to 10000 \(got "abc"\)/],
      [['--limit', '0'], /--limit must be a whole number from 1/],
    ];
    for (const [args, reason] of cases) expectUsage(await cli(['exceptions', ...args], env), reason);
  });

  // The parser itself is unit-tested in worker/cli-args.test.ts; these show other commands go through it.
  it('the same parser guards every command', { timeout: 120_000 }, async () => {
    expectUsage(await cli(['run-once', '--now', '2026-02-30T09:00:00+08:00'], env), /--now must be an ISO-8601 instant/);
    expectUsage(await cli(['chases', 'list', '--limit', 'abc'], env), /chases list: --limit must be a whole number/);
    expectUsage(await cli(['import', 'orders', 'x.csv', '--format', 'xml'], env), /--format must be one of csv\|ndjson/);
  });

  it('run-once --json writes only JSON on stdout; a list cut at its limit says so', { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pwcli-'));
    const file = join(dir, 'orders.ndjson');
    const late = (id: string) => JSON.stringify({ orderId: id, paidAt: '2026-11-11T00:05:00+08:00', amount: 80 });
    writeFileSync(file, ['L1', 'L2', 'L3'].map(late).join('\n'));
    expect((await cli(['import', 'orders', file, '--format', 'NDJSON'], env)).code).toBe(0);

    // LOG_LEVEL=info: the cycle logs, and those lines must not land on stdout.
    const r = await cli(['run-once', '--now', '2026-11-14T09:00:00+08:00', '--json'], { ...env, LOG_LEVEL: 'info' });
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.ok).toBe(true);
    expect(summary.totals['opened.late_shipment']).toBe(3);
    expect(r.stderr).toMatch(/"level":30/);

    const table = await cli(['exceptions', '--limit', '2'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/showing 2 exceptions of more; use --limit/);
    const csv = await cli(['exceptions', '--limit', '2', '--format', 'CSV'], env);
    expect(csv.code).toBe(0);
    expect(csv.stdout.trim().split('\n')).toHaveLength(3);
    expect(csv.stderr).toMatch(/showing 2 exceptions of more/);
    const all = await cli(['exceptions', '--limit', '3'], env);
    expect(all.stdout).toMatch(/\n3 exceptions\n$/);
    expect(all.stdout).not.toMatch(/of more/);
  });
});

describe('ids beyond bigint answer 404', () => {
  it('on every /api/...:id route', async () => {
    const app = await createTestApp();
    const http = await startHttp(app.deps, { check: async () => 'ok' as const }, async () => {}, { port: 0 });
    try {
      const huge = ['99999999999999999999', '9223372036854775808', '9007199254740993'];
      const routes = (id: string): [string, string, unknown][] => [
        ['POST', `/api/outreach/${id}/claim`, { agent: 'a' }],
        ['POST', `/api/outreach/${id}/complete`, { outcome: 'ok' }],
        ['POST', `/api/outreach/${id}/release`, {}],
        ['DELETE', `/api/chases/${id}`, undefined],
      ];
      for (const id of [...huge, '424242']) {
        for (const [method, path, body] of routes(id)) {
          const res = await fetch(`http://127.0.0.1:${http.port}${path}`, {
            method,
            headers: body ? { 'content-type': 'application/json' } : {},
            body: body ? JSON.stringify(body) : undefined,
          });
          expect(res.status, `${method} ${path}`).toBe(404);
          expect(((await res.json()) as { error: string }).error).toMatch(/not found/);
        }
      }
      // Keyset cursors with such numbers are bad requests, not 500s.
      for (const q of ['/api/chases?cursor=', '/api/exceptions?cursor=', '/api/outreach?cursor=1_1_']) {
        const res = await fetch(`http://127.0.0.1:${http.port}${q}${huge[0]}`);
        expect(res.status, q).toBe(400);
      }
    } finally {
      await http.close();
      await app.close();
    }
  });
});
