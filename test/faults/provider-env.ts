import { afterEach } from 'vitest';
import { startChannelSink, type ChannelSink } from '../fakes/channel-sink.js';
import { startKuaidi100Fake, type Kuaidi100Fake } from '../fakes/kuaidi100-server.js';
import { FAST_CONFIG, startFaultEnv, untilReady, type Daemon, type FaultEnv } from './harness.js';

/*
 * The daemon against real local services instead of the built-in sandbox: the Kuaidi100 fake (real wire
 * format, signature checked, fault modes) as its only tracking provider, and one channel sink as the
 * agents' webhook (`/agents`) and the customers' webhook (`/customers`). Journeys are deterministic per
 * tracking number, so a test knows which events were served and which exceptions they imply.
 */

export const K100_CUSTOMER = 'PWFAULTCUSTOMER';
export const K100_KEY = 'pw-fault-kuaidi100-key';
export const AGENT_SECRET = 'pw-fault-agent-webhook-secret';
export const CUSTOMER_SECRET = 'pw-fault-customer-webhook-secret';

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep merge of config objects (later wins; arrays replaced), like the daemon's own override merge. */
export function deepMerge<T extends Plain>(base: T, ...overs: Plain[]): T {
  const out: Plain = { ...base };
  for (const o of overs) {
    for (const [k, v] of Object.entries(o)) out[k] = isPlain(v) && isPlain(out[k]) ? deepMerge(out[k] as Plain, v) : v;
  }
  return out as T;
}

/**
 * FAST_CONFIG with every carrier routed to the Kuaidi100 fake and both webhooks pointed at the sink. Each
 * parcel is polled once more only after an error (errorBackoffMinutes), so the fake's request log reads
 * as the daemon's retries. The whole config is returned (startDaemon merges only top-level keys).
 */
export function providerFaultConfig(fakeUrl: string, sinkUrl: string, extra: Plain = {}): Plain {
  return deepMerge(
    FAST_CONFIG as Plain,
    {
      providers: {
        routes: { default: 'kuaidi100' },
        // Short enough that an opened breaker costs seconds, not the default five minutes.
        circuitBreaker: { failureThreshold: 5, openSeconds: 2 },
        kuaidi100: {
          enabled: true,
          baseUrl: fakeUrl,
          autonumberUrl: fakeUrl,
          customer: K100_CUSTOMER,
          key: K100_KEY,
          qps: 50,
          concurrency: 16,
          timeoutMs: 1500,
          maxQueriesPer24h: 48,
        },
      },
      polling: { inTransitMinutes: 30, outForDeliveryMinutes: 30, problemMinutes: 30 },
      outreach: {
        channels: { webhook: { enabled: true, url: `${sinkUrl}/agents`, secret: AGENT_SECRET, timeoutMs: 2000 } },
        delivery: { attempts: 4, backoffMs: 300 },
      },
      chases: {
        quietHours: { enabled: false },
        channels: { webhook: { enabled: true, url: `${sinkUrl}/customers`, secret: CUSTOMER_SECRET, timeoutMs: 2000 } },
        delivery: { attempts: 4, backoffMs: 300 },
      },
    },
    extra,
  );
}

/** YTO tracking number of parcel `i` (YTO needs no phone digits at Kuaidi100). */
export const k100No = (i: number, prefix = 'YT') => `${prefix}${String(i).padStart(11, '0')}`;

/** External order id of the order `postKuaidi100Orders` made for tracking number `num` (default prefix K). */
export const orderIdOf = (num: string, prefix = 'K') => `${prefix}${Number(num.replace(/\D/g, ''))}`;

/** Every `PROBLEM_EVERY`-th parcel's carrier reports damage (问题件, statusCode 209): a carrier_problem exception. */
export const PROBLEM_EVERY = 5;

function shanghai(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

const HUBS = ['杭州转运中心', '上海转运中心', '广州转运中心', '北京转运中心', '成都转运中心', '武汉转运中心'];

/**
 * Kuaidi100 `poll/query.do` bodies, newest first, with events before `baseMs` (the test's start): the
 * same number always gets the same body, so a re-poll brings nothing new. Parcel `i` (from its number)
 * is collected, moves through two hubs, and — every PROBLEM_EVERY-th — is reported damaged.
 */
export function journeys(baseMs: number) {
  const indexOf = (num: string) => Number(num.replace(/\D/g, '')) || 0;
  const body = (num: string) => {
    const i = indexOf(num);
    const a = HUBS[i % HUBS.length]!;
    const b = HUBS[(i + 1) % HUBS.length]!;
    const t0 = baseMs - 40 * 60_000 + (i % 60) * 1000;
    const events = [
      { at: t0, context: `【杭州市】快件已被 杭州${i % 97}号网点 揽收`, statusCode: '1' },
      { at: t0 + 10 * 60_000, context: `快件已到达【${a}】`, statusCode: '1001' },
      { at: t0 + 20 * 60_000, context: `快件离开【${a}】，正在发往【${b}】`, statusCode: '1002' },
      { at: t0 + 30 * 60_000, context: `快件已到达【${b}】`, statusCode: '1001' },
    ];
    if (i % PROBLEM_EVERY === 0) events.push({ at: t0 + 35 * 60_000, context: `快件在【${b}】发现外包装破损，已联系发件网点处理`, statusCode: '209' });
    const newest = events[events.length - 1]!;
    return {
      message: 'ok',
      nu: num,
      ischeck: '0',
      com: 'yuantong',
      status: '200',
      condition: 'F00',
      state: newest.statusCode === '209' ? '2' : '0',
      data: events
        .map((e) => ({ time: shanghai(e.at), ftime: shanghai(e.at), context: e.context, location: '', areaName: '', status: e.statusCode === '209' ? '疑难' : '在途', statusCode: e.statusCode }))
        .reverse(),
    };
  };
  return {
    body,
    /** Distinct events in the number's body. */
    eventCount: (num: string) => body(num).data.length,
    /** Whether the number's journey implies a carrier_problem exception. */
    isProblem: (num: string) => indexOf(num) % PROBLEM_EVERY === 0,
  };
}

export interface ProviderFakes {
  fake: Kuaidi100Fake;
  sink: ChannelSink;
  journeys: ReturnType<typeof journeys>;
  /** Daemon config for these fakes (plus `extra`). */
  config(extra?: Plain): Plain;
  close(): Promise<void>;
}

/** The Kuaidi100 fake answering every number with its journey, and the webhook sink. */
export async function startProviderFakes(): Promise<ProviderFakes> {
  const fake = await startKuaidi100Fake({ customer: K100_CUSTOMER, key: K100_KEY });
  const sink = await startChannelSink();
  const j = journeys(Date.now());
  fake.setDefault((num) => j.body(num));
  return {
    fake,
    sink,
    journeys: j,
    config: (extra = {}) => providerFaultConfig(fake.url, sink.url, extra),
    async close() {
      await Promise.all([fake.close(), sink.close()]);
    },
  };
}

/**
 * Orders `${prefix}${i}` for i in [from, from + n), one YTO parcel each (`k100No(i)`), paid and marked
 * shipped an hour ago, with a customer phone (chases need the order's own contact), through the API.
 */
export async function postKuaidi100Orders(d: Daemon, n: number, opts: { prefix?: string; from?: number } = {}): Promise<string[]> {
  const prefix = opts.prefix ?? 'K';
  const from = opts.from ?? 0;
  const at = new Date(Date.now() - 3600_000).toISOString();
  const orders = Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      orderId: `${prefix}${i}`,
      paidAt: at,
      amount: 100,
      customer: { name: `客户${i}`, phone: `1380000${String(i).padStart(4, '0')}` },
      shipments: [{ carrier: 'YTO', trackingNo: k100No(i), markedShippedAt: at }],
    };
  });
  const r = await d.api('POST', '/api/orders', { orders });
  if (r.status !== 200 || r.json.accepted !== n) throw new Error(`orders not accepted: ${JSON.stringify(r.json).slice(0, 300)}`);
  return orders.map((o) => o.shipments[0]!.trackingNo);
}

/** The daemon's Prometheus text (GET /metrics). */
export async function metricsText(d: Daemon): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${d.port}/metrics`, { signal: AbortSignal.timeout(10_000) });
  return res.text();
}

/** Value of one sample of a counter in the Prometheus text (0 when absent). */
export function metricValue(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.indexOf('}');
    const got = Object.fromEntries([...line.slice(name.length + 1, close).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(line.slice(close + 1).trim());
  }
  return 0;
}

/** A fault env (own Postgres + Redis), the fakes, and the daemon started against them and ready. */
export interface ProviderFaultRun {
  e: FaultEnv;
  f: ProviderFakes;
  d: Daemon;
  close(): Promise<void>;
}

/**
 * Start all of it; `extra` is merged into the fakes' daemon config. A daemon that exits during start
 * (invalid config) fails at once with its last lines, instead of a readiness timeout.
 */
export async function startProviderFaultRun(extra: Plain = {}, onStarted?: (run: ProviderFaultRun) => void): Promise<ProviderFaultRun> {
  const e = await startFaultEnv();
  const f = await startProviderFakes();
  const close = async () => {
    await e.close();
    await f.close();
  };
  const d = await e.startDaemon({ config: f.config(extra) });
  const run = { e, f, d, close };
  onStarted?.(run); // the caller can close it even if the start fails below
  const exitedEarly = d.exited.then((code) => Promise.reject(new Error(`daemon exited ${code}: ${JSON.stringify(d.lines.slice(-5))}`)));
  exitedEarly.catch(() => {});
  await Promise.race([untilReady(d, 200, 30_000), exitedEarly]);
  return run;
}

/** For a test file: `start(extra)` runs startProviderFaultRun, and what it started is closed after each test. */
export function providerFaultRuns(): (extra?: Plain) => Promise<ProviderFaultRun> {
  let run: ProviderFaultRun | undefined;
  afterEach(async () => {
    await run?.close();
    run = undefined;
  });
  return (extra = {}) => startProviderFaultRun(extra, (r) => (run = r));
}
