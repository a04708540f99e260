import type { IncomingMessage, ServerResponse } from 'node:http';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Read a JSON body with a size limit: too large → 413, not JSON → 400. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new HttpError(413, `body larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `body larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `body is not JSON: ${(err as Error).message}`);
  }
}

export function queryParams(req: IncomingMessage): URLSearchParams {
  return new URL(req.url ?? '/', 'http://local').searchParams;
}

/** A keyset cursor part: digits that fit a JS safe integer (beyond it no row matches and Postgres may reject it). */
export const SAFE_DIGITS = /^-?\d{1,16}$/;
export const isSafeIntText = (v: string) => SAFE_DIGITS.test(v) && Number.isSafeInteger(Number(v));

/**
 * A path id as a number, or 404 when it cannot name a row: ids are bigserials read as JS numbers, so
 * anything beyond 2^53 (and certainly beyond bigint, where Postgres would fail the query: a 500) is unknown.
 */
export function idParam(raw: string | undefined, what: string): number {
  const n = raw !== undefined && /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n)) throw new HttpError(404, `${what} ${raw ?? ''} not found`);
  return n;
}
