import { SEVERITIES, type Severity } from '../config/schema.js';

/** Rank of a severity: info 0 < warning 1 < critical 2 < breach 3 (SEVERITIES is ordered). */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** Sort comparator, ascending (negative when a is less severe than b). */
export function compareSeverity(a: Severity, b: Severity): number {
  return severityRank(a) - severityRank(b);
}

export function isMoreSevere(a: Severity, b: Severity): boolean {
  return compareSeverity(a, b) > 0;
}

/** The worst of some severities; null for none. */
export function maxSeverity(list: Iterable<Severity>): Severity | null {
  let worst: Severity | null = null;
  for (const s of list) if (worst === null || isMoreSevere(s, worst)) worst = s;
  return worst;
}
