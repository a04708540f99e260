/**
 * Most arrivals in any window of `durationMs` (half-open), from a fake's sorted arrival timestamps: the
 * count-based measure of a rate limit (no assertion on how fast anything ran).
 */
export function busiestWindow(at: number[], durationMs: number): number {
  let most = 0;
  for (let i = 0, j = 0; j < at.length; j++) {
    while (at[j]! - at[i]! >= durationMs) i++;
    most = Math.max(most, j - i + 1);
  }
  return most;
}
