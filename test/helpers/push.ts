import { kdniaoSign } from '../../carriers/kdniao/client.js';
import { kuaidi100PushSign } from '../../carriers/kuaidi100/push.js';
import { seventeenTrackPushSign } from '../../carriers/seventeen-track/push.js';
import { deepMerge, type DeepPartial } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import type { Deps } from '../../jobs/define-job.js';
import { startHttp, type HttpServer } from '../../worker/http.js';
import { RedisConnections } from '../../worker/redis.js';
import { QueueRuntime } from '../../worker/runtime.js';
import { TEST_REDIS_URL } from './services.js';

export const SALT = 'k100-salt';
export const EBID = '1237100';
export const APP_KEY = 'kdniao-app-key';
export const ST_TOKEN = '17track-key';

/** Providers enabled with push credentials: YTO/ZTO numbers → Kuaidi100, STO → Kdniao, EMS → 17TRACK. */
export function pushConfig(over: DeepPartial<Config> = {}): DeepPartial<Config> {
  const base: DeepPartial<Config> = {
    providers: {
      routes: { default: 'sandbox', YTO: 'kuaidi100', ZTO: 'kuaidi100', STO: 'kdniao', EMS: 'seventeenTrack' },
      kuaidi100: { enabled: true, customer: 'CUST', key: 'k100-key', mode: 'push', salt: SALT, callbackUrl: 'https://shop.example/hooks/kuaidi100', baseUrl: 'http://127.0.0.1:9' },
      kdniao: { enabled: true, eBusinessId: EBID, appKey: APP_KEY, mode: 'push', baseUrl: 'http://127.0.0.1:9' },
      seventeenTrack: { enabled: true, token: ST_TOKEN, mode: 'push', baseUrl: 'http://127.0.0.1:9' },
    },
  };
  return deepMerge(base, over) as DeepPartial<Config>;
}

/** The daemon's HTTP server on a random port, with a real BullMQ runtime (no workers) taking follow-ups. */
export async function startHooks(deps: Deps): Promise<{ base: string; http: HttpServer; runtime: QueueRuntime; close(): Promise<void> }> {
  const connections = new RedisConnections(TEST_REDIS_URL, deps.log);
  const runtime = new QueueRuntime(deps, connections);
  const http = await startHttp(deps, connections, runtime.enqueue, { port: 0 });
  return {
    base: `http://127.0.0.1:${http.port}`,
    http,
    runtime,
    async close() {
      await http.close();
      await runtime.close();
      await connections.quitAll();
    },
  };
}

/** A Kuaidi100 push form for `param` (signed with `salt` unless sign is given). */
export function k100Form(param: unknown, opts: { salt?: string; sign?: string | null } = {}): string {
  const p = typeof param === 'string' ? param : JSON.stringify(param);
  const f = new URLSearchParams({ param: p });
  const sign = opts.sign === undefined ? kuaidi100PushSign(p, opts.salt ?? SALT) : opts.sign;
  if (sign !== null) f.set('sign', sign);
  return f.toString();
}

/** A Kuaidi100 push param: status + lastResult with these events (newest first, as Kuaidi100 sends). */
export function k100Param(nu: string, events: { ftime: string; context: string; statusCode?: string }[], over: Record<string, unknown> = {}) {
  return {
    status: 'polling',
    billstatus: 'got',
    message: '',
    lastResult: {
      message: 'ok',
      nu,
      ischeck: '0',
      com: 'yuantong',
      status: '200',
      state: '0',
      data: [...events].reverse().map((e) => ({ time: e.ftime, ftime: e.ftime, context: e.context, location: '', ...(e.statusCode ? { statusCode: e.statusCode } : {}) })),
    },
    ...over,
  };
}

export function kdniaoForm(requestData: unknown, opts: { appKey?: string; requestType?: string; sign?: string | null } = {}): string {
  const data = typeof requestData === 'string' ? requestData : JSON.stringify(requestData);
  const f = new URLSearchParams({ RequestData: data, RequestType: opts.requestType ?? '101', DataType: '2' });
  const sign = opts.sign === undefined ? kdniaoSign(data, opts.appKey ?? APP_KEY) : opts.sign;
  if (sign !== null) f.set('DataSign', sign);
  return f.toString();
}

export const st17Sign = (body: string, key = ST_TOKEN) => seventeenTrackPushSign(body, key);

export const postForm = (url: string, body: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
