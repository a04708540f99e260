import { readFileSync } from 'node:fs';
import pino from 'pino';
import { expect } from 'vitest';
import { ProviderError, type ProviderContext } from '../../carriers/carrier.js';
import { fixedClock } from '../../domain/clock.js';

/** A provider reply sample from test/fixtures, parsed. */
export const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));

/** What a provider client is called with: a fixed clock, a silent log, Shanghai time. */
export function providerContext(at: string): ProviderContext {
  return { clock: fixedClock(at), log: pino({ level: 'silent' }), timeZone: 'Asia/Shanghai' };
}

/** The ProviderError a call rejects with (fails the test if it resolves or throws something else). */
export async function failure(p: Promise<unknown>): Promise<ProviderError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ProviderError);
  return e as ProviderError;
}
