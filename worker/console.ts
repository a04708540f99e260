import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express from 'express';
import { HttpError, readJson, sendJson } from '../api/http-kit.js';

/** The console's own files: console/ beside the sources (tsx) or two levels up from dist/worker (the container). */
const here = dirname(fileURLToPath(import.meta.url));
const CONSOLE_DIR = [join(here, '..', 'console'), join(here, '..', '..', 'console')].find((d) => existsSync(join(d, 'index.html'))) ?? join(here, '..', 'console');
const require = createRequire(import.meta.url);
/** Third-party files served from node_modules: nothing is fetched from the internet by the browser. */
const VENDOR: Record<string, string> = {
  'uPlot.iife.min.js': require.resolve('uplot/dist/uPlot.iife.min.js'),
  'uPlot.min.css': require.resolve('uplot/dist/uPlot.min.css'),
};
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

export const SESSION_COOKIE = 'pw_token';

/** The session cookie's token, if the request carries one. */
export function cookieToken(req: IncomingMessage): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === SESSION_COOKIE) return decodeURIComponent(v.join('='));
  }
  return null;
}

function setSession(res: ServerResponse, token: string | null): void {
  // HttpOnly: page scripts never hold the token; SameSite=Strict: no other site can make the browser send it.
  const value = token === null ? `${SESSION_COOKIE}=; Max-Age=0` : `${SESSION_COOKIE}=${encodeURIComponent(token)}; Max-Age=${12 * 3600}`;
  res.setHeader('set-cookie', `${value}; Path=/; HttpOnly; SameSite=Strict`);
}

export interface Console {
  /** Answers a /console request. `authorized(token)` checks a token the way /api does. */
  handle(req: IncomingMessage, res: ServerResponse, path: string, authorized: (token: string | null) => boolean): Promise<void>;
}

/**
 * The ops console under /console: static pages (console/*.html|js|css, uPlot from node_modules) that read the
 * JSON API, a session endpoint that turns the API token into an HttpOnly cookie, and bull-board at
 * /console/queues (an express app is a (req, res) handler; it gets the requests below its mount point).
 */
export function createConsole(opts: { queues: Queue[] }): Console {
  const board = new ExpressAdapter();
  board.setBasePath('/console/queues');
  createBullBoard({ queues: opts.queues.map((q) => new BullMQAdapter(q)), serverAdapter: board, options: { uiConfig: { boardTitle: 'parcelwatch 队列' } } });
  const app = express();
  app.disable('x-powered-by');
  app.use('/console/queues', board.getRouter());

  async function serveFile(res: ServerResponse, file: string): Promise<void> {
    const body = await readFile(file).catch(() => null);
    if (!body) return sendJson(res, 404, { error: 'not found' });
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': body.length, 'cache-control': 'no-cache' });
    res.end(body);
  }

  return {
    async handle(req, res, path, authorized) {
      const url = new URL(req.url ?? '/', 'http://local');
      // ?token=… once: checked, turned into the session cookie, and dropped from the address bar (and history).
      const given = url.searchParams.get('token');
      if (given !== null) {
        if (!authorized(given)) return sendJson(res, 401, { error: 'wrong token' });
        setSession(res, given);
        url.searchParams.delete('token');
        res.writeHead(302, { location: url.pathname + url.search });
        return void res.end();
      }
      if (path === '/console/session') {
        if (req.method === 'DELETE') {
          setSession(res, null);
          return void res.writeHead(204).end();
        }
        if (req.method !== 'POST') return sendJson(res, 405, { error: 'method not allowed' });
        const body = (await readJson(req, 4096)) as { token?: unknown };
        const token = typeof body?.token === 'string' ? body.token : '';
        if (!authorized(token)) throw new HttpError(401, 'wrong token');
        setSession(res, token);
        return void res.writeHead(204).end();
      }
      if (path === '/console/queues' || path.startsWith('/console/queues/')) {
        if (!authorized(cookieToken(req))) {
          res.writeHead(302, { location: '/console/#login' });
          return void res.end();
        }
        return new Promise<void>((resolve) => {
          res.once('finish', resolve);
          res.once('close', resolve);
          app(req as express.Request, res as express.Response, () => {
            if (!res.headersSent) sendJson(res, 404, { error: 'not found' });
            resolve();
          });
        });
      }
      if (path === '/console') {
        res.writeHead(302, { location: '/console/' });
        return void res.end();
      }
      if (path.startsWith('/console/vendor/')) {
        const file = VENDOR[path.slice('/console/vendor/'.length)];
        return file ? serveFile(res, file) : sendJson(res, 404, { error: 'not found' });
      }
      // Static pages are public (the login form must load); every figure on them comes from the API.
      const rel = path === '/console/' ? 'index.html' : decodeURIComponent(path.slice('/console/'.length));
      const file = normalize(join(CONSOLE_DIR, rel));
      if (!file.startsWith(CONSOLE_DIR + sep)) return sendJson(res, 404, { error: 'not found' });
      return serveFile(res, file);
    },
  };
}
