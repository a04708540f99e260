import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * The one argument parser of every CLI command. A command declares its options once (kind, allowed
 * values, bounds, default); a wrong value, an unknown option or a missing positional throws a
 * UsageError naming the option and what is allowed, which main.ts prints with the usage (exit 64).
 * So `--limit abc`, `--type bogus` or `--format xml` never reach a query, print a stack trace or an
 * empty "0 exceptions".
 */
export class UsageError extends Error {}

type Spec =
  | { kind: 'flag' }
  | { kind: 'text'; default?: string }
  | { kind: 'choice'; choices: readonly string[]; default?: string }
  | { kind: 'int'; min: number; max: number; default?: number }
  | { kind: 'instant' };

/** `--name` with no value. */
export const flag = () => ({ kind: 'flag' }) as const;
/** Free text (still must not be empty when given). */
export const text = <D extends string | undefined = undefined>(dflt?: D) => ({ kind: 'text', default: dflt }) as { kind: 'text'; default: D };
/** One of `choices` (matched case-insensitively). */
export const choice = <const C extends readonly string[], D extends C[number] | undefined = undefined>(choices: C, dflt?: D) =>
  ({ kind: 'choice', choices, default: dflt }) as { kind: 'choice'; choices: C; default: D };
/** A whole number in [min, max]. */
export const int = <D extends number | undefined = undefined>(min: number, max: number, dflt?: D) =>
  ({ kind: 'int', min, max, default: dflt }) as { kind: 'int'; min: number; max: number; default: D };
/** An ISO-8601 instant with an offset or Z (a bare local time would depend on the machine's zone). */
export const instant = () => ({ kind: 'instant' }) as const;

type Value<S> = S extends { kind: 'flag' }
  ? boolean
  : S extends { kind: 'choice'; choices: infer C extends readonly string[]; default: infer D }
    ? C[number] | (undefined extends D ? undefined : never)
    : S extends { kind: 'int'; default: infer D }
      ? number | (undefined extends D ? undefined : never)
      : S extends { kind: 'text'; default: infer D }
        ? string | (undefined extends D ? undefined : never)
        : S extends { kind: 'instant' }
          ? Date | undefined
          : never;

export type Values<O extends Record<string, Spec>> = { [K in keyof O]: Value<O[K]> };

export interface CommandSpec<O extends Record<string, Spec>> {
  /** Shown in messages: "exceptions", "chases list". */
  command: string;
  options: O;
  /** Names of the positionals, in order; `?` marks an optional one ("FILE", "ID?"), a last name with `…` takes any number ("ID…?"). More are refused. */
  positionals?: readonly string[];
}

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** A real calendar instant: Date would roll 2026-02-30 over to March 2, so the day is checked first. */
export function parseInstant(v: string): Date | null {
  const m = ISO_INSTANT.exec(v);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) return null;
  const at = new Date(v);
  return Number.isNaN(at.getTime()) ? null : at;
}

/** Parse and validate `args` (the words after the command name). */
export function parseCommand<O extends Record<string, Spec>>(spec: CommandSpec<O>, args: string[]): { values: Values<O>; positionals: string[] } {
  const nodeOptions: NonNullable<ParseArgsConfig['options']> = Object.fromEntries(
    Object.entries(spec.options).map(([k, s]) => [k, { type: s.kind === 'flag' ? ('boolean' as const) : ('string' as const) }]),
  );
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args, options: nodeOptions, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    // node:util's messages are clear ("Unknown option '--foo'", "Option '--limit <value>' argument missing").
    throw new UsageError(`${spec.command}: ${(err as Error).message.split('\n')[0]}`);
  }
  const names = spec.positionals ?? [];
  const required = names.filter((n) => !n.endsWith('?')).length;
  if (parsed.positionals.length < required) throw new UsageError(`${spec.command}: missing ${names.slice(parsed.positionals.length).filter((n) => !n.endsWith('?')).join(' ')}`);
  const variadic = names.at(-1)?.includes('…') ?? false;
  if (!variadic && parsed.positionals.length > names.length) throw new UsageError(`${spec.command}: unexpected argument ${JSON.stringify(parsed.positionals[names.length])}`);

  const values: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(spec.options)) {
    const raw = parsed.values[name];
    const opt = `--${name}`;
    if (s.kind === 'flag') {
      values[name] = raw === true;
      continue;
    }
    if (raw === undefined) {
      values[name] = 'default' in s ? s.default : undefined;
      continue;
    }
    const v = String(raw).trim();
    if (v === '') throw new UsageError(`${spec.command}: ${opt} needs a value`);
    if (s.kind === 'text') values[name] = v;
    else if (s.kind === 'choice') {
      // Case-insensitive (`--format CSV` is csv), answered with the canonical spelling.
      const hit = s.choices.find((c) => c.toLowerCase() === v.toLowerCase());
      if (hit === undefined) throw new UsageError(`${spec.command}: ${opt} must be one of ${s.choices.join('|')} (got ${JSON.stringify(v)})`);
      values[name] = hit;
    } else if (s.kind === 'int') {
      const n = /^\d+$/.test(v) ? Number(v) : NaN;
      if (!Number.isSafeInteger(n) || n < s.min || n > s.max) {
        throw new UsageError(`${spec.command}: ${opt} must be a whole number from ${s.min} to ${s.max} (got ${JSON.stringify(v)})`);
      }
      values[name] = n;
    } else {
      const at = parseInstant(v);
      if (!at) throw new UsageError(`${spec.command}: ${opt} must be an ISO-8601 instant with an offset, e.g. 2026-11-14T09:00:00+08:00 (got ${JSON.stringify(v)})`);
      values[name] = at;
    }
  }
  return { values: values as Values<O>, positionals: parsed.positionals };
}

/** "showing 50 of more; use --limit" — what a list cut at its limit says (stderr for csv/json, so stdout stays parseable). */
export function truncatedNote(shown: number, what: string): string {
  return `showing ${shown} ${what} of more; use --limit to see more`;
}
