import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature } from '../../notify/sign.js';

/** One request the sink received. */
export interface SinkRequest {
  method: string;
  /** Path and query as sent ("/robot/send?access_token=…"). */
  url: string;
  /** Parsed query of `url`. */
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  raw: string;
  /** Parsed JSON body, or null when the body is empty or not JSON. */
  json: any;
  /** HTTP status the sink answered (absent while hanging). */
  status?: number;
}

type Reply = { kind: 'status'; status: number; body: unknown; headers?: Record<string, string> } | { kind: 'hang' };

export interface ChannelSink {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  requests: SinkRequest[];
  /** The next `n` requests answer `status` (default 500) with `body` (default {"error":"scripted"}). */
  failNext(n: number, status?: number, body?: unknown, headers?: Record<string, string>): void;
  /** The next `n` requests answer HTTP 200 with `body` (e.g. {"errcode":45009,"errmsg":"freq out of limit"}). */
  replyNext(n: number, body: unknown): void;
  /** The next `n` requests never get an answer (until close), to provoke client timeouts. */
  hangNext(n: number): void;
  /**
   * Every request `match` accepts answers `status` (default 500) until `clearFailMatching()`, ahead of the
   * scripted replies (a poison endpoint: one task's deliveries always fail while the others go through).
   */
  failMatching(match: (req: SinkRequest) => boolean, status?: number): void;
  clearFailMatching(): void;
  /** What every unscripted request answers (HTTP 200). */
  setDefaultReply(body: unknown): void;
  /** Whether a request's X-Parcelwatch-Signature matches its raw body under `secret`. */
  verify(req: SinkRequest, secret: string): boolean;
  close(): Promise<void>;
}

/** Default reply satisfies every channel: robots read errcode, SMS reads Code, webhooks only the status. */
export const DEFAULT_SINK_REPLY = { errcode: 0, errmsg: 'ok', Code: 'OK', Message: 'OK', RequestId: 'sink', BizId: 'sink' };

/** A real HTTP server on 127.0.0.1:0 that records requests and can be scripted to fail. */
export async function startChannelSink(): Promise<ChannelSink> {
  const requests: SinkRequest[] = [];
  const script: Reply[] = [];
  let defaultReply: unknown = DEFAULT_SINK_REPLY;
  let failing: { match: (req: SinkRequest) => boolean; status: number } | null = null;
  const hanging = new Set<ServerResponse>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let json: unknown = null;
      try {
        json = raw ? JSON.parse(raw) : null;
      } catch {
        json = null;
      }
      const url = req.url ?? '/';
      const rec: SinkRequest = {
        method: req.method ?? 'GET',
        url,
        query: new URL(url, 'http://sink').searchParams,
        headers: req.headers,
        raw,
        json,
      };
      requests.push(rec);
      const reply: Reply =
        failing && failing.match(rec)
          ? { kind: 'status', status: failing.status, body: { error: 'scripted (failMatching)' } }
          : (script.shift() ?? { kind: 'status', status: 200, body: defaultReply });
      if (reply.kind === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      rec.status = reply.status;
      res.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', ...reply.headers });
      res.end(text);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext(n, status = 500, body = { error: 'scripted' }, headers) {
      for (let i = 0; i < n; i++) script.push({ kind: 'status', status, body, ...(headers ? { headers } : {}) });
    },
    replyNext(n, body) {
      for (let i = 0; i < n; i++) script.push({ kind: 'status', status: 200, body });
    },
    hangNext(n) {
      for (let i = 0; i < n; i++) script.push({ kind: 'hang' });
    },
    failMatching(match, status = 500) {
      failing = { match, status };
    },
    clearFailMatching() {
      failing = null;
    },
    setDefaultReply(body) {
      defaultReply = body;
    },
    verify(req, secret) {
      return verifySignature(secret, req.raw, req.headers['x-parcelwatch-signature']);
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
