/**
 * The one source of "now" for every rule, deadline and schedule.
 * Production uses {@link systemClock}; tests and `run-once --now` use {@link fixedClock}.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

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
