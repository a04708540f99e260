import { localParts, zoneOffsetMs } from '../domain/local-time.js';

export interface QuietHoursConfig {
  enabled: boolean;
  /** "HH:MM" in the business time zone. */
  start: string;
  /** "HH:MM" in the business time zone. */
  end: string;
}

function minutesOf(hhmm: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm.trim());
  if (!m) throw new Error(`invalid HH:MM: ${hhmm}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** The instant at which the local wall clock in `timeZone` reads the given date and time. */
export function localWallToInstant(
  timeZone: string,
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
): Date {
  // Date.UTC normalises overflow (day 32 → next month), so callers may pass day + 1.
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  // Two passes settle instants next to a DST change in zones that have one.
  let utc = wall - zoneOffsetMs(timeZone, wall);
  utc = wall - zoneOffsetMs(timeZone, utc);
  return new Date(utc);
}

/**
 * When `at` falls inside quiet hours, the instant they end; otherwise null.
 * The window is [start, end) in local time: 22:00 is quiet, 08:00 is not. A window with start > end
 * crosses midnight (22:00–08:00); start == end means an empty window (never quiet).
 */
export function quietUntil(at: Date, cfg: QuietHoursConfig, timeZone: string): Date | null {
  if (!cfg.enabled) return null;
  const start = minutesOf(cfg.start);
  const end = minutesOf(cfg.end);
  if (start === end) return null;
  const p = localParts(at, timeZone);
  const now = p.hour * 60 + p.minute;
  const endH = Math.floor(end / 60);
  const endM = end % 60;
  if (start < end) {
    // Same-day window, e.g. 12:00–14:00.
    if (now >= start && now < end) return localWallToInstant(timeZone, p.year, p.month, p.day, endH, endM);
    return null;
  }
  // Window across midnight, e.g. 22:00–08:00.
  if (now >= start) return localWallToInstant(timeZone, p.year, p.month, p.day + 1, endH, endM);
  if (now < end) return localWallToInstant(timeZone, p.year, p.month, p.day, endH, endM);
  return null;
}

/** Start (00:00 local) of the business day containing `at`, for per-day caps. */
export function businessDayStart(at: Date, timeZone: string): Date {
  const p = localParts(at, timeZone);
  return localWallToInstant(timeZone, p.year, p.month, p.day);
}
