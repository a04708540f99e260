import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttp, type HttpServer } from '../worker/http.js';
import { seedDemoOrders } from '../worker/demo.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { TEST_REDIS_URL } from './helpers/services.js';

/**
 * The ops console in a real browser: Debian's Chromium (CHROMIUM_PATH, default /usr/bin/chromium) driven by
 * playwright-core, nothing downloaded. A demo order book is seeded and judged, each page is loaded, the
 * figures shown are compared with the API's, filters and a parcel timeline are clicked through, bull-board
 * retries a failed job, and screenshots land in test-artifacts/console/ (CI artefacts).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'console');
const TOKEN = 'console-token-0123456789';

describe('ops console in headless Chromium', () => {
  let app: TestApp;
  let http: HttpServer;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  let queue: Queue;
  const connections: Redis[] = [];
  let userDataDir: string;

  const api = async <T = Record<string, unknown>>(path: string): Promise<T> => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  };
  const ready = (name: string) => page.waitForSelector(`main[data-page="${name}"][data-ready="1"]`);
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const texts = (sel: string) => page.locator(sel).allInnerTexts();

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    app = await createTestApp({ http: { apiToken: TOKEN }, demo: { orders: 120 }, norms: { minSamples: 5 } }, '2026-11-14T10:00:00+08:00');
    await seedDemoOrders(app.deps);
    await app.cycle('2026-11-14T10:00:00+08:00');
    await app.cycle('2026-11-14T16:00:00+08:00');
    // a queue with one failed job for bull-board
    const conn = () => {
      const c = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
      connections.push(c);
      return c;
    };
    queue = new Queue('detection', { connection: conn(), prefix: app.prefix });
    const events = new QueueEvents('detection', { connection: conn(), prefix: app.prefix });
    await events.waitUntilReady();
    const worker = new Worker('detection', async () => Promise.reject(new Error('carrier API down')), { connection: conn(), prefix: app.prefix });
    const job = await queue.add('detect-exceptions', {}, { jobId: 'failing-1', attempts: 1 });
    await job.waitUntilFinished(events).catch(() => {});
    await worker.close();
    await events.close();
    http = await startHttp(app.deps, { check: async () => 'ok' as const }, async () => {}, { port: 0, queues: [queue] });
    base = `http://127.0.0.1:${http.port}`;
    userDataDir = mkdtempSync(join(tmpdir(), 'pw-chromium-'));
    // a fresh profile per run (launchPersistentContext is how playwright takes --user-data-dir)
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
      acceptDownloads: true,
    });
    page = context.pages()[0] ?? (await context.newPage());
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await http?.close();
    await queue?.close();
    for (const c of connections) c.disconnect();
    await app?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it('asks for the token, refuses a wrong one, then shows today against the API', async () => {
    await page.goto(`${base}/console/`);
    await page.waitForSelector('#login-form');
    await page.fill('#login-form input[name=token]', 'wrong');
    await page.click('#login-form button');
    await expect.poll(() => page.locator('#login-error').innerText()).toBe('令牌不正确');
    await page.fill('#login-form input[name=token]', TOKEN);
    await page.click('#login-form button');
    await ready('today');
    const today = await api<{ openExceptionsTotal: number; openExceptions: { type: string; count: number }[]; lateShipmentBreaches: { count: number; penaltyYuan: number }; outreach: { overdue: number }; chasers: { active: number } }>('/api/reports/today');
    expect(today.openExceptionsTotal).toBeGreaterThan(0);
    const card = (id: string) => page.locator(`[data-testid=${id}] .value`).innerText();
    expect(await card('card-open')).toBe(today.openExceptionsTotal.toLocaleString('zh-CN'));
    expect(await card('card-breaches')).toBe(String(today.lateShipmentBreaches.count));
    expect(await page.locator('[data-testid=penalty]').innerText()).toBe(`¥${today.lateShipmentBreaches.penaltyYuan.toFixed(2)}`);
    expect(await card('card-overdue')).toBe(String(today.outreach.overdue));
    expect(await card('card-chasers')).toBe(String(today.chasers.active));
    // the matrix: one row per open type, its total the API's
    const perType = new Map<string, number>();
    for (const r of today.openExceptions) perType.set(r.type, (perType.get(r.type) ?? 0) + r.count);
    for (const [type, n] of perType) expect(await page.locator(`[data-testid=open-matrix] tr[data-type=${type}] [data-testid=type-total]`).innerText()).toBe(String(n));
    // the labels are Chinese (from the vocabulary), not codes
    expect(await page.locator('[data-testid=open-matrix] tbody').innerText()).not.toMatch(/_/);
    await shot('today');
    await page.screenshot({ path: join(process.cwd(), 'docs', 'console.png') });
  });

  it('lists, filters, sorts, pages and exports exceptions', async () => {
    await page.click('nav a[data-page=exceptions]');
    await ready('exceptions');
    const all = await api<{ items: { type: string; trackingNo: string | null }[] }>('/api/exceptions?status=open&limit=50');
    expect(await page.locator('[data-testid=exceptions-table] tbody tr').count()).toBe(all.items.length);
    // filter by the most common type
    const counts = new Map<string, number>();
    for (const i of all.items) counts.set(i.type, (counts.get(i.type) ?? 0) + 1);
    const type = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    const vocab = await api<{ types: Record<string, string> }>('/api/reports/vocabulary');
    await page.selectOption('#exc-filters select[name=type]', type);
    await page.selectOption('#exc-filters select[name=limit]', '25');
    await page.click('#exc-filters button[type=submit]');
    const filtered = await api<{ items: unknown[]; nextCursor: string | null }>(`/api/exceptions?status=open&type=${type}&limit=25`);
    await expect.poll(() => page.locator('[data-testid=exceptions-table] tbody tr').count()).toBe(filtered.items.length);
    expect(new Set(await texts('[data-testid=exceptions-table] tbody td:nth-child(2)'))).toEqual(new Set([vocab.types[type]]));
    // sort by hours open: the whole filtered list, not the page (the first row is the longest open of all)
    await page.click('[data-testid=exceptions-table] th:nth-child(7)');
    await expect.poll(() => page.locator('#exc-filters select[name=sort]').inputValue()).toBe('oldest');
    const longest = await api<{ items: { ageHours: number; id: number }[] }>(`/api/exceptions?status=open&type=${type}&sort=oldest&limit=25`);
    await expect
      .poll(async () => (await texts('[data-testid=exceptions-table] tbody td:nth-child(7)')).map((t) => Number(t.replace(/,/g, ''))))
      .toEqual(longest.items.map((i) => i.ageHours));
    const hours = longest.items.map((i) => i.ageHours);
    expect(hours).toEqual([...hours].sort((a, b) => b - a));
    const everyAge = (await api<{ items: { ageHours: number }[] }>(`/api/exceptions?status=open&type=${type}&limit=1000`)).items.map((i) => i.ageHours);
    expect(hours[0]).toBe(Math.max(...everyAge));
    if (filtered.nextCursor) {
      await page.click('#exc-next');
      await expect.poll(() => page.locator('#exc-page').innerText()).toMatch(/^第 2 页/);
      await page.click('#exc-prev');
      await expect.poll(() => page.locator('#exc-page').innerText()).toMatch(/^第 1 页/);
    }
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#exc-export')]);
    const csv = readFileSync((await download.path())!);
    expect([...csv.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const every = await api<{ items: unknown[] }>(`/api/exceptions?status=open&type=${type}&limit=1000`);
    expect(csv.toString('utf8').trim().split('\r\n')).toHaveLength(every.items.length + 1);
    await shot('exceptions');
  });

  it('opens a parcel timeline from the list: events, exceptions and tasks as the API has them', async () => {
    const link = page.locator('[data-testid=exceptions-table] [data-testid=parcel-link]').first();
    const trackingNo = await link.innerText();
    await link.click();
    await ready('parcel');
    const shipment = await api<{ items: { events: unknown[]; exceptions: unknown[]; orderIds: string[]; status: string }[] }>(`/api/shipments/${trackingNo}`);
    const s = shipment.items[0]!;
    expect(await page.locator('[data-testid=timeline] li').count()).toBe(s.events.length);
    expect(await page.locator('[data-testid=parcel-exceptions] tbody tr').count()).toBe(s.exceptions.length);
    const vocab = await api<{ statuses: Record<string, string> }>('/api/reports/vocabulary');
    expect(await page.locator('[data-testid=parcel-status]').innerText()).toBe(vocab.statuses[s.status]);
    const tasks = await api<{ items: unknown[] }>(`/api/outreach?orderId=${s.orderIds[0]}`);
    expect(await page.locator('[data-testid=parcel-tasks] tbody tr td.wrap').count()).toBe(tasks.items.length);
    await shot('parcel');
    // No poll job of this parcel failed: no failure card. Once two have failed for good (as poll-tracking's
    // onFailed counts them), the view shows the count and the next poll the API gives.
    expect(await page.locator('[data-testid=parcel-poll-failures]').count()).toBe(0);
    await app.deps.sql`update shipment_schedule c set poll_failures = 2 from shipments s where s.id = c.shipment_id and s.tracking_no = ${trackingNo}`;
    await page.reload();
    await ready('parcel');
    const failing = (await api<{ items: { pollFailures: number }[] }>(`/api/shipments/${trackingNo}`)).items[0]!;
    expect(failing.pollFailures).toBe(2);
    const card = await page.locator('[data-testid=parcel-poll-failures]').innerText();
    expect(card).toContain('查询连续失败');
    expect(card).toContain('2 次');
    await app.deps.sql`update shipment_schedule c set poll_failures = 0 from shipments s where s.id = c.shipment_id and s.tracking_no = ${trackingNo}`;
  });

  it('shows outreach by agent and the task list with its filters', async () => {
    await page.click('nav a[data-page=outreach]');
    await ready('outreach');
    const open = await api<{ items: { overdue: boolean }[] }>('/api/outreach?status=open&limit=500');
    expect(await page.locator('[data-testid=tasks-table] tbody tr td.wrap').count()).toBe(open.items.length);
    await page.check('#task-filters input[name=overdue]');
    await page.click('#task-filters button[type=submit]');
    const overdue = open.items.filter((t) => t.overdue).length;
    await expect.poll(() => page.locator('[data-testid=tasks-table] tbody tr td.wrap').count()).toBe(overdue);
    await shot('outreach');
  });

  it('shows carrier scorecards and a trend chart per carrier', async () => {
    await page.click('nav a[data-page=carriers]');
    await ready('carriers');
    const rep = await api<{ items: { carrier: string; onTimeRate: number | null }[] }>('/api/reports/carriers?since=30d');
    expect(await page.locator('[data-testid=scorecards-table] tbody tr').count()).toBe(rep.items.length);
    const shown = await texts('[data-testid=scorecards-table] [data-testid=ontime]');
    const fmt = (r: number | null) => (r === null ? '—' : `${(r * 100).toFixed(1)}%`);
    expect(shown.sort()).toEqual(rep.items.map((i) => fmt(i.onTimeRate)).sort());
    const trends = await api<{ items: { carrier: string | null }[] }>('/api/reports/exceptions?since=30d');
    const carriers = new Set(trends.items.map((i) => i.carrier ?? ''));
    expect(await page.locator('[data-testid=trend-chart] canvas').count()).toBe(carriers.size);
    await shot('carriers');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await ready('carriers');
    await shot('carriers-phone');
    await page.goto(`${base}/console/#today`);
    await ready('today');
    // nothing wider than the phone's screen but the scrolling tables
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shot('today-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('mounts bull-board behind the session: a failed job is listed and retried', async () => {
    await page.goto(`${base}/console/queues/queue/detection?status=failed`);
    await page.waitForSelector('text=carrier API down');
    await shot('queues');
    // the board's own retry call, made with the page's session cookie
    const res = await page.request.put(`${base}/console/queues/api/queues/detection/failing-1/retry`);
    expect(res.status()).toBe(204);
    expect(await (await queue.getJob('failing-1'))!.getState()).toBe('waiting');
    // without the session cookie the board is not reachable
    const anon = await fetch(`${base}/console/queues/api/queues`, { redirect: 'manual' });
    expect(anon.status).toBe(302);
    // ?token= once sets the session and leaves the token out of the address
    await context.clearCookies();
    await page.goto(`${base}/console/#carriers`);
    await page.waitForSelector('#login-form');
    await page.goto(`${base}/console/?token=${TOKEN}#carriers`);
    expect(page.url()).not.toContain('token=');
    await ready('carriers');
  });
});
