import { describe, expect, it } from 'vitest';
import { choice, flag, instant, int, parseCommand, parseInstant, text, UsageError } from './cli-args.js';

const spec = {
  command: 'demo-cmd',
  options: { status: choice(['open', 'resolved'], 'open'), type: choice(['a', 'b']), limit: int(1, 100, 50), note: text(), json: flag(), now: instant() },
  positionals: ['FILE', 'MORE?'],
};
const usage = (args: string[]) => {
  try {
    parseCommand(spec, args);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`no usage error for ${args.join(' ')}`);
};

describe('parseCommand', () => {
  it('answers defaults, canonical choices, numbers, instants and flags', () => {
    const { values, positionals } = parseCommand(spec, ['f.csv', '--type', 'B', '--limit', '7', '--json', '--now', '2026-11-14T09:00:00+08:00']);
    expect(values).toEqual({ status: 'open', type: 'b', limit: 7, note: undefined, json: true, now: new Date('2026-11-14T01:00:00Z') });
    expect(positionals).toEqual(['f.csv']);
  });

  it('names the option and what is allowed for every bad value', () => {
    expect(usage(['f', '--status', 'nope'])).toBe('demo-cmd: --status must be one of open|resolved (got "nope")');
    expect(usage(['f', '--limit', 'abc'])).toMatch(/--limit must be a whole number from 1 to 100 \(got "abc"\)/);
    for (const bad of ['0', '1.5', '101', '1e2', '99999999999999999999']) expect(usage(['f', '--limit', bad])).toMatch(/--limit must be a whole number/);
    expect(usage(['f', '--limit', '-5'])).toMatch(/'--limit' argument is ambiguous/);
    expect(usage(['f', '--note', ' '])).toMatch(/--note needs a value/);
    expect(usage(['f', '--limit'])).toMatch(/argument missing/);
    expect(usage(['f', '--bogus'])).toMatch(/Unknown option '--bogus'/);
    expect(usage([])).toBe('demo-cmd: missing FILE');
    expect(usage(['a', 'b', 'c'])).toBe('demo-cmd: unexpected argument "c"');
    for (const bad of ['2026-02-30T00:00:00Z', '2026-13-01T00:00:00Z', '2026-11-14', '2026-11-14T09:00:00', 'now', '2026-11-14T24:00:00Z']) {
      expect(usage(['f', '--now', bad])).toMatch(/--now must be an ISO-8601 instant with an offset/);
    }
  });

  it('parseInstant accepts real calendar instants only', () => {
    expect(parseInstant('2028-02-29T00:00:00Z')).toEqual(new Date('2028-02-29T00:00:00Z'));
    expect(parseInstant('2026-02-29T00:00:00Z')).toBeNull();
    expect(parseInstant('2026-11-14T09:00+0800')).toEqual(new Date('2026-11-14T01:00:00Z'));
  });
});
