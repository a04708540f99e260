/**
 * Carriers in China send local wall-clock times without an offset ("2026-11-12 08:21:03", "2014/06/25 08:05:37").
 * They are read in the business time zone from config. Strings with an explicit offset or Z are honoured as given.
 */
// ZTO via Kdniao sometimes drops the space ("2018-04-0313:21:49"): accepted right after a two-digit day only.
const LOCAL_RE = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:(?:[ T]|(?<=[-/.]\d{2}))(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?$/;

const offsetCache = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = offsetCache.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    offsetCache.set(timeZone, f);
  }
  return f;
}

/** Offset of `timeZone` from UTC at instant `utcMs`, in ms. */
export function zoneOffsetMs(timeZone: string, utcMs: number): number {
  if (timeZone === 'Asia/Shanghai') return 8 * 3_600_000; // no DST since 1991; hot path for ingestion
  const parts = formatter(timeZone).formatToParts(new Date(utcMs));
  const get = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/** Parse a carrier timestamp; local strings are read in `timeZone`. Returns null when unparseable. */
export function parseCarrierTime(value: unknown, timeZone: string): Date | null {
  if (typeof value !== 'string') return null;
  const s = value.trim();
  const m = LOCAL_RE.exec(s);
  if (m) {
    const [, y, mo, d, h = '0', mi = '0', sec = '0', ms = '0'] = m;
    const wall = Date.UTC(+y!, +mo! - 1, +d!, +h, +mi, +sec, +ms.padEnd(3, '0'));
    if (+mo! < 1 || +mo! > 12 || +d! < 1 || +d! > 31 || +h > 23) return null;
    // Two passes handle instants next to a DST change in zones that have one.
    let utc = wall - zoneOffsetMs(timeZone, wall);
    utc = wall - zoneOffsetMs(timeZone, utc);
    return new Date(utc);
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(s)) {
    const d = new Date(s);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  return null;
}

/** Wall-clock parts of `at` in `timeZone` (for quiet hours, business days, slot ids). */
export function localParts(at: Date, timeZone: string): { year: number; month: number; day: number; hour: number; minute: number } {
  const local = new Date(at.getTime() + zoneOffsetMs(timeZone, at.getTime()));
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
  };
}

/** "YYYY-MM-DD HH:mm" in the business time zone, for messages to people. */
export function formatLocal(at: Date, timeZone: string): string {
  const p = localParts(at, timeZone);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${p.year}-${two(p.month)}-${two(p.day)} ${two(p.hour)}:${two(p.minute)}`;
}
