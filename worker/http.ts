import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { getAlerts, getCarriers } from '../api/carriers.js';
import { deleteChase, getChases, postChase } from '../api/chases.js';
import { getExceptions } from '../api/exceptions.js';
import { HttpError, queryParams, readJson, sendJson } from '../api/http-kit.js';
import { postOrders } from '../api/orders.js';
import { listOutreach, transition } from '../api/outreach.js';
import type { Deps, FollowUp } from '../jobs/define-job.js';

export interface HttpServer {
  server: Server;
  port: number;
  /** Flip /readyz to 503 first on shutdown so load balancers drain us. */
  setDraining(): void;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, deps: Deps, enqueue: (f: FollowUp[]) => Promise<void>) => Promise<unknown>;

const routes: { method: string; path: RegExp; handler: Handler }[] = [
  { method: 'POST', path: /^\/api\/orders$/, handler: async (req, _res, deps) => postOrders(deps, await readJson(req, deps.config.http.bodyLimitBytes)) },
  { method: 'GET', path: /^\/api\/carriers$/, handler: async (req) => getCarriers(queryParams(req)) },
  { method: 'GET', path: /^\/api\/alerts$/, handler: async (_req, _res, deps) => getAlerts(deps) },
  { method: 'GET', path: /^\/api\/exceptions$/, handler: async (req, _res, deps) => getExceptions(deps, queryParams(req)) },
  { method: 'GET', path: /^\/api\/outreach$/, handler: async (req, _res, deps) => listOutreach(deps, queryParams(req)) },
  {
    method: 'POST',
    path: /^\/api\/outreach\/\d+\/(claim|complete|release)$/,
    handler: async (req, _res, deps, enqueue) => {
      const [, , , id, action] = (req.url ?? '').split('?')[0]!.split('/');
      const body = req.headers['content-length'] === '0' ? {} : await readJson(req, deps.config.http.bodyLimitBytes).catch(() => ({}));
      return transition(deps, Number(id), action!, body, enqueue);
    },
  },
  { method: 'POST', path: /^\/api\/chases$/, handler: async (req, res, deps) => postChase(deps, await readJson(req, deps.config.http.bodyLimitBytes), res) },
  { method: 'GET', path: /^\/api\/chases$/, handler: async (req, _res, deps) => getChases(deps, queryParams(req)) },
  { method: 'DELETE', path: /^\/api\/chases\/\d+$/, handler: async (req, _res, deps) => deleteChase(deps, Number((req.url ?? '').split('?')[0]!.split('/')[3])) },
];

function authorized(req: IncomingMessage, token: string): boolean {
  if (!token) return true;
  const header = req.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

export async function startHttp(deps: Deps, redis: Redis, enqueue: (f: FollowUp[]) => Promise<void>, opts: { port?: number } = {}): Promise<HttpServer> {
  let draining = false;
  const server = createServer(async (req, res) => {
    const requestId = (req.headers['x-request-id'] as string | undefined) ?? randomUUID();
    res.setHeader('x-request-id', requestId);
    const log = deps.log.child({ requestId, method: req.method, url: req.url?.split('?')[0] });
    const path = (req.url ?? '/').split('?')[0]!;
    try {
      if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
      if (path === '/readyz') {
        if (draining) return sendJson(res, 503, { status: 'draining' });
        const checks = await Promise.allSettled([deps.sql`select 1`, redis.ping()]);
        const [pg, rd] = checks.map((c) => (c.status === 'fulfilled' ? 'ok' : `down: ${(c.reason as Error).message}`));
        const ok = pg === 'ok' && rd === 'ok';
        return sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', postgres: pg, redis: rd });
      }
      if (path === '/metrics') {
        const text = await deps.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
        return res.end(text);
      }
      if (path.startsWith('/api/') && !authorized(req, deps.config.http.apiToken)) {
        return sendJson(res, 401, { error: 'missing or wrong bearer token' });
      }
      const route = routes.find((r) => r.path.test(path) && r.method === req.method);
      if (!route) {
        const other = routes.some((r) => r.path.test(path));
        return sendJson(res, other ? 405 : 404, { error: other ? 'method not allowed' : 'not found' });
      }
      const body = await route.handler(req, res, deps, enqueue);
      if (!res.headersSent) sendJson(res, 200, body);
    } catch (err) {
      if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message, ...err.body });
      log.error({ err }, 'request failed');
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
