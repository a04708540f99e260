/**
 * The one source of "now" for every rule, deadline and schedule.
 * Production uses {@link systemClock}; tests and `run-once --now` use {@link fixedClock}.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Environment variable: the daemon's clock runs this many ms ahead (negative: behind) of the system clock. */
export const CLOCK_OFFSET_ENV = 'PARCELWATCH_CLOCK_OFFSET_MS';

/**
 * The clock of `parcelwatch start`: the system clock, moved by PARCELWATCH_CLOCK_OFFSET_MS when that is set.
 * For tests only (the fault suite runs replicas whose clocks disagree by ±90 s, as unsynchronised hosts
 * would); read here and nowhere else. Not a config key on purpose: no production setting should move time.
 * An offset that is not an integer within ±1 day stops the start naming the variable.
 */
export function daemonClock(env: Record<string, string | undefined> = process.env): { clock: Clock; offsetMs: number } {
  const raw = env[CLOCK_OFFSET_ENV];
  if (raw === undefined || raw.trim() === '') return { clock: systemClock, offsetMs: 0 };
  const offsetMs = Number(raw);
  if (!Number.isSafeInteger(offsetMs) || Math.abs(offsetMs) > 24 * 3_600_000) {
    throw new Error(`${CLOCK_OFFSET_ENV} must be an integer number of milliseconds within ±86400000, got ${JSON.stringify(raw)}`);
  }
  if (offsetMs === 0) return { clock: systemClock, offsetMs: 0 };
  return { clock: { now: () => new Date(systemClock.now().getTime() + offsetMs) }, offsetMs };
}

/** A clock frozen at `at` (or moved by hand with `set`), for replays and tests. */
export function fixedClock(at: Date | string): Clock & { set(at: Date | string): void } {
  let current = new Date(at);
  if (Number.isNaN(current.getTime())) throw new Error(`invalid instant: ${String(at)}`);
  return {
    now: () => new Date(current.getTime()),
    set(next) {
      current = new Date(next);
    },
  };
}

export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

export function addHours(at: Date, hours: number): Date {
  return new Date(at.getTime() + hours * HOUR_MS);
}

export function hoursBetween(from: Date, to: Date): number {
  return (to.getTime() - from.getTime()) / HOUR_MS;
}
