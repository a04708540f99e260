import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { timingSafeEqual } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { getAlerts, getCarriers } from '../api/carriers.js';
import { deleteChase, getChases, postChase } from '../api/chases.js';
import { getUnclassified } from '../api/events.js';
import { getExceptions } from '../api/exceptions.js';
import { HttpError, idParam, queryParams, readJson, sendJson } from '../api/http-kit.js';
import { handleHook, hookFor } from '../api/hooks.js';
import { postOrders } from '../api/orders.js';
import { getCarrierReport, getExceptionReport, getToday, getVocabulary } from '../api/reports.js';
import { listOutreach, transition } from '../api/outreach.js';
import { getShipment } from '../api/shipments.js';
import type { Deps, FollowUp } from '../jobs/define-job.js';
import { z } from 'zod';
import { retryDeliveries } from '../jobs/deliver-outreach.js';
import type { RedisConnections } from './redis.js';

const deliveryRetryBody = z.object({ ids: z.array(z.number().int().positive()).max(10_000).optional(), failed: z.boolean().optional() });

/** /readyz never waits longer than this for a check (a frozen Postgres or Redis answers 503, not a hang). */
const READY_CHECK_TIMEOUT_MS = 3000;

async function withinTimeout(check: Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([check, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${READY_CHECK_TIMEOUT_MS} ms`)), READY_CHECK_TIMEOUT_MS)))]);
    return 'ok';
  } catch (err) {
    return `down: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}
import { cookieToken, createConsole } from './console.js';

export interface HttpServer {
  server: Server;
  port: number;
  /** Flip /readyz to 503 first on shutdown so load balancers drain us. */
  setDraining(): void;
  close(): Promise<void>;
}

type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  deps: Deps,
  enqueue: (f: FollowUp[]) => Promise<void>,
  params: Record<string, string>,
) => Promise<unknown>;

/**
 * Routes match on the path; named groups become `params`. An `:id` is a bigint key: `idParam` answers 404
 * for anything that cannot be one (too many digits, beyond bigint), so Postgres never sees it (a 500 before).
 */
const routes: { method: string; path: RegExp; handler: Handler }[] = [
  { method: 'POST', path: /^\/api\/orders$/, handler: async (req, _res, deps) => postOrders(deps, await readJson(req, deps.config.http.bodyLimitBytes)) },
  { method: 'GET', path: /^\/api\/carriers$/, handler: async (req) => getCarriers(queryParams(req)) },
  { method: 'GET', path: /^\/api\/alerts$/, handler: async (_req, _res, deps) => getAlerts(deps) },
  { method: 'GET', path: /^\/api\/exceptions$/, handler: async (req, _res, deps) => getExceptions(deps, queryParams(req)) },
  { method: 'GET', path: /^\/api\/outreach$/, handler: async (req, _res, deps) => listOutreach(deps, queryParams(req)) },
  {
    method: 'POST',
    path: /^\/api\/outreach\/(?<id>\d+)\/(?<action>claim|complete|release)$/,
    handler: async (req, _res, deps, enqueue, p) => {
      const id = idParam(p.id, 'outreach task');
      const body = req.headers['content-length'] === '0' ? {} : await readJson(req, deps.config.http.bodyLimitBytes).catch(() => ({}));
      return transition(deps, id, p.action!, body, enqueue);
    },
  },
  {
    method: 'POST',
    path: /^\/api\/deliveries\/retry$/,
    handler: async (req, _res, deps, enqueue) => {
      const b = deliveryRetryBody.safeParse(await readJson(req, deps.config.http.bodyLimitBytes));
      if (!b.success || (!b.data.ids?.length && !b.data.failed)) throw new HttpError(400, 'body must be {"ids":[…]} and/or {"failed":true}');
      const followUps = await retryDeliveries(deps.sql, b.data);
      // Rows are re-armed first: if Redis is down now, the next sync run hands them to the queue.
      await enqueue(followUps);
      return { requeued: followUps.length, ids: followUps.map((f) => (f.payload as { deliveryId: number }).deliveryId) };
    },
  },
  { method: 'POST', path: /^\/api\/chases$/, handler: async (req, res, deps) => postChase(deps, await readJson(req, deps.config.http.bodyLimitBytes), res) },
  { method: 'GET', path: /^\/api\/chases$/, handler: async (req, _res, deps) => getChases(deps, queryParams(req)) },
  { method: 'DELETE', path: /^\/api\/chases\/(?<id>\d+)$/, handler: async (_req, _res, deps, _e, p) => deleteChase(deps, idParam(p.id, 'chase')) },
  { method: 'GET', path: /^\/api\/shipments\/(?<trackingNo>[^/]+)$/, handler: async (req, _res, deps, _e, p) => getShipment(deps, p.trackingNo!, queryParams(req)) },
  { method: 'GET', path: /^\/api\/reports\/carriers$/, handler: async (req, _res, deps) => getCarrierReport(deps, queryParams(req)) },
  { method: 'GET', path: /^\/api\/reports\/exceptions$/, handler: async (req, _res, deps) => getExceptionReport(deps, queryParams(req)) },
  { method: 'GET', path: /^\/api\/reports\/today$/, handler: async (_req, _res, deps) => getToday(deps) },
  { method: 'GET', path: /^\/api\/reports\/vocabulary$/, handler: async (_req, _res, deps) => getVocabulary(deps) },
  { method: 'GET', path: /^\/api\/events\/unclassified$/, handler: async (req, _res, deps) => getUnclassified(deps, queryParams(req)) },
];

function tokenMatches(given: string | null, token: string): boolean {
  if (!token) return true;
  const a = Buffer.from(given ?? '');
  const want = Buffer.from(token);
  return a.length === want.length && timingSafeEqual(a, want);
}

/**
 * Bearer header, or for reads the console's session cookie (HttpOnly, SameSite=Strict): the browser pages
 * read the API with the cookie, while every write still needs the header, so no page elsewhere can make a
 * browser change anything.
 */
function authorized(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? '';
  if (tokenMatches(header.startsWith('Bearer ') ? header.slice(7) : null, token)) return true;
  return req.method === 'GET' && cookieToken(req) !== null && tokenMatches(cookieToken(req), token);
}

export async function startHttp(
  deps: Deps,
  redis: Pick<RedisConnections, 'check'>,
  enqueue: (f: FollowUp[]) => Promise<void>,
  opts: { port?: number; queues?: Queue[] } = {},
): Promise<HttpServer> {
  let draining = false;
  const opsConsole = createConsole({ queues: opts.queues ?? [] });
  const server = createServer(async (req, res) => {
    const requestId = (req.headers['x-request-id'] as string | undefined) ?? randomUUID();
    res.setHeader('x-request-id', requestId);
    // Made when something is logged: a pino child per request (with redaction) was a visible share of a push's CPU.
    let child: Logger | undefined;
    const log = () => (child ??= deps.log.child({ requestId, method: req.method, url: req.url?.split('?')[0] }));
    const path = (req.url ?? '/').split('?')[0]!;
    try {
      if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
      if (path === '/readyz') {
        if (draining) return sendJson(res, 503, { status: 'draining' });
        const [pg, rd] = await Promise.all([withinTimeout(deps.sql`select 1`.execute()), withinTimeout(redis.check().then((r) => (r === 'ok' ? r : Promise.reject(new Error(r.replace(/^down: /, ''))))))]);
        const ok = pg === 'ok' && rd === 'ok';
        return sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', postgres: pg, redis: rd });
      }
      if (path === '/metrics') {
        const text = await deps.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
        return res.end(text);
      }
      if (path === '/console' || path.startsWith('/console/')) {
        return await opsConsole.handle(req, res, path, (t) => tokenMatches(t, deps.config.http.apiToken));
      }
      // Provider pushes authenticate by their own signature, not by the API token.
      if (path.startsWith('/hooks/')) {
        const receiver = hookFor(path, deps.config);
        if (!receiver) return sendJson(res, 404, { error: 'not found' });
        return await handleHook(req, res, receiver, deps, enqueue, log);
      }
      if (path.startsWith('/api/') && !authorized(req, deps.config.http.apiToken)) {
        return sendJson(res, 401, { error: 'missing or wrong bearer token' });
      }
      const route = routes.find((r) => r.path.test(path) && r.method === req.method);
      if (!route) {
        const other = routes.some((r) => r.path.test(path));
        return sendJson(res, other ? 405 : 404, { error: other ? 'method not allowed' : 'not found' });
      }
      const body = await route.handler(req, res, deps, enqueue, { ...route.path.exec(path)!.groups });
      if (!res.headersSent) sendJson(res, 200, body);
    } catch (err) {
      if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message, ...err.body });
      log().error({ err }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error', requestId });
    }
  });
  const port = opts.port ?? deps.config.http.port;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, deps.config.http.host, () => resolve());
  });
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  let closed: Promise<void> | undefined;
  return {
    server,
    port: actual,
    setDraining: () => {
      draining = true;
    },
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      })),
  };
}
