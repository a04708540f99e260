/**
 * Provider push receivers: POST /hooks/kuaidi100, /hooks/kdniao, /hooks/17track (plus
 * /<push.hookSecret> when one is configured). They sit outside the API token: each push is
 * authenticated by its provider's signature. The receiver only verifies, stores (ingest/push.ts) and
 * acknowledges in the provider's format; detection and chaser notices go to BullMQ.
 *
 * Refused (nothing stored, logged with the reason): unsigned or badly signed → 401, oversized → 413,
 * malformed → 400. A store failure answers the provider's failure form (HTTP 500) so it pushes again.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { kdniaoAck, parseKdniaoPush } from '../carriers/kdniao/push.js';
import { KUAIDI100_ACK, kuaidi100Failure, parseKuaidi100Push } from '../carriers/kuaidi100/push.js';
import { PushRejected, type FormFields, type PushItem, type PushProvider } from '../carriers/push.js';
import { parseSandboxPush, SANDBOX_SIGN_HEADER } from '../carriers/sandbox/push.js';
import { parseSeventeenTrackPush } from '../carriers/seventeen-track/push.js';
import type { Config } from '../config/schema.js';
import { ingestPush, type Enqueue } from '../ingest/push.js';
import type { Deps } from '../jobs/define-job.js';
import { sendJson } from './http-kit.js';

interface Receiver {
  provider: PushProvider;
  /** The secret the signature is checked with; empty = this hook is not configured (404). */
  secret(config: Config): string;
  parse(body: Buffer, req: IncomingMessage, config: Config): PushItem[];
  ack(config: Config): unknown;
  failure(config: Config, message: string): unknown;
}

function form(body: Buffer, req: IncomingMessage): FormFields {
  const type = String(req.headers['content-type'] ?? '');
  if (!type.startsWith('application/x-www-form-urlencoded')) throw new PushRejected(415, 'wrong_type', `content-type ${type || '(none)'} is not a form`);
  return parseForm(body.toString('utf8'));
}

/**
 * An application/x-www-form-urlencoded body, read as URLSearchParams reads it (`+` is a space, the first of
 * a repeated name wins) but decoded by the engine's decodeURIComponent: URLSearchParams' own decoder was a
 * visible share of a push's CPU (a push is ~2 KB of percent-encoded Chinese). A body with a malformed escape
 * goes to URLSearchParams, which decodes it leniently (U+FFFD), so both read every body alike.
 */
export function parseForm(text: string): FormFields {
  const fields = new Map<string, string>();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeFormPart(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decodeFormPart(pair.slice(eq + 1));
    // The constructor drops one leading '?' (a query string's), which a form body keeps: prefix one for it to drop.
    if (name === null || value === null) return new URLSearchParams(`?${text}`);
    if (!fields.has(name)) fields.set(name, value);
  }
  return { get: (name) => fields.get(name) ?? null };
}

function decodeFormPart(part: string): string | null {
  try {
    return decodeURIComponent(part.includes('+') ? part.replace(/\+/g, ' ') : part);
  } catch {
    return null;
  }
}

const RECEIVERS: Record<string, Receiver> = {
  kuaidi100: {
    provider: 'kuaidi100',
    secret: (c) => (c.providers.kuaidi100.enabled ? c.providers.kuaidi100.salt : ''),
    parse: (body, req, c) => [parseKuaidi100Push(form(body, req), c.providers.kuaidi100.salt, c.timezone)],
    ack: () => KUAIDI100_ACK,
    failure: (_c, message) => kuaidi100Failure(message),
  },
  kdniao: {
    provider: 'kdniao',
    secret: (c) => (c.providers.kdniao.enabled ? c.providers.kdniao.appKey : ''),
    parse: (body, req, c) => parseKdniaoPush(form(body, req), c.providers.kdniao.eBusinessId, c.providers.kdniao.appKey, c.timezone),
    ack: (c) => kdniaoAck(c.providers.kdniao.eBusinessId, true),
    failure: (c, message) => kdniaoAck(c.providers.kdniao.eBusinessId, false, message),
  },
  '17track': {
    provider: 'seventeenTrack',
    secret: (c) => (c.providers.seventeenTrack.enabled ? c.providers.seventeenTrack.token : ''),
    parse: (body, req, c) => {
      const sign = req.headers.sign;
      return [parseSeventeenTrackPush(body.toString('utf8'), Array.isArray(sign) ? sign[0] : sign, c.providers.seventeenTrack.token, c.timezone)];
    },
    // 17TRACK only looks at the HTTP status (UNCONFIRMED); a small JSON body is harmless.
    ack: () => ({ code: 0 }),
    failure: (_c, message) => ({ code: -1, message }),
  },
  // The demo's own pushes (worker/demo.ts); 404 unless providers.sandbox.pushSecret is set.
  sandbox: {
    provider: 'sandbox',
    secret: (c) => (c.providers.sandbox.enabled ? c.providers.sandbox.pushSecret : ''),
    parse: (body, req, c) => {
      const sign = req.headers[SANDBOX_SIGN_HEADER];
      return parseSandboxPush(body.toString('utf8'), Array.isArray(sign) ? sign[0] : sign, c.providers.sandbox.pushSecret);
    },
    ack: () => ({ ok: true }),
    failure: (_c, message) => ({ ok: false, message }),
  },
};

/** The receiver a path names, or null (404): /hooks/<name> or, with a hook secret, /hooks/<name>/<secret> only. */
export function hookFor(path: string, config: Config): Receiver | null {
  const m = /^\/hooks\/([\w-]+)(?:\/([\w-]+))?\/?$/.exec(path);
  if (!m) return null;
  const receiver = RECEIVERS[m[1]!];
  if (!receiver) return null;
  const want = config.push.hookSecret;
  if ((m[2] ?? '') !== want) return null;
  return receiver;
}

/** Read the body up to `limit` bytes; larger → PushRejected 413 (the rest is not read). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new PushRejected(413, 'too_large', `body of ${declared} bytes is larger than ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new PushRejected(413, 'too_large', `body larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Handle one push request end to end (never throws: every outcome is answered and logged). */
export async function handleHook(req: IncomingMessage, res: ServerResponse, receiver: Receiver, deps: Deps, enqueue: Enqueue, log: () => Logger): Promise<void> {
  const arrivedAt = performance.now();
  const { config, metrics } = deps;
  const provider = receiver.provider;
  try {
    if (req.method !== 'POST') throw new PushRejected(404, 'wrong_method', `${req.method} is not POST`);
    if (!receiver.secret(config)) throw new PushRejected(404, 'not_configured', `${provider} pushes are not configured (provider disabled or no signing secret)`);
    const body = await readBody(req, config.push.bodyLimitBytes);
    const items = receiver.parse(body, req, config);
    const outcome = await ingestPush(deps, enqueue, provider, items, arrivedAt);
    metrics.pushesReceived.inc({ provider });
    if (deps.log.isLevelEnabled('debug')) log().debug({ provider, ...outcome }, 'push stored');
    sendJson(res, 200, receiver.ack(config));
  } catch (err) {
    if (err instanceof PushRejected) {
      metrics.pushesRejected.inc({ provider, reason: err.reason });
      log().warn({ provider, reason: err.reason, status: err.status, remote: req.socket.remoteAddress }, `push refused: ${err.message}`);
      if (err.status === 413) res.setHeader('connection', 'close'); // the rest of the body is not read
      return sendJson(res, err.status, receiver.failure(config, err.message));
    }
    metrics.pushesRejected.inc({ provider, reason: 'store_failed' });
    log().error({ provider, err }, 'push not stored; answered a failure so the provider retries');
    if (!res.headersSent) sendJson(res, 500, receiver.failure(config, 'temporary failure, retry later'));
  }
}
