/**
 * Hub extraction from Chinese scan texts, e.g. `快件已到达【杭州转运中心】`,
 * `快件离开【广州转运中心】已发往【杭州转运中心】`, `【上海市】…派件中`.
 * (Placeholder; the carriers work replaces it with the full rules and tests.)
 */
export function extractHub(text: string): string | null {
  const bracketed = [...text.matchAll(/【([^】]+)】/g)].map((m) => m[1]!.trim());
  if (bracketed.length) return bracketed[0]!;
  return null;
}
