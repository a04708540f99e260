/**
 * Memoise a pure function of one text in a bounded cache. Reading a carrier text (status rules, hub
 * extraction) is a few dozen regular expressions; the same texts come back all the time: every Kuaidi100
 * push and every poll reply re-sends the parcel's whole history, and hub scans are templated
 * (`快件离开【广州转运中心】已发往【杭州转运中心】` for thousands of parcels). Two generations: lookups
 * hit either, new entries go in the young one, and when it is full the old one is dropped, so memory stays
 * within 2 × `size` entries without per-hit bookkeeping. Results are shared between callers: they must not
 * be mutated (they are frozen when they are objects).
 */
export function memoText<R>(fn: (text: string) => R, size = 20_000): (text: string) => R {
  let young = new Map<string, R>();
  let old = new Map<string, R>();
  return (text: string): R => {
    let r = young.get(text);
    if (r !== undefined || young.has(text)) return r as R;
    r = old.get(text);
    if (r === undefined && !old.has(text)) {
      r = fn(text);
      if (r !== null && typeof r === 'object') Object.freeze(r);
    }
    if (young.size >= size) {
      old = young;
      young = new Map();
    }
    young.set(text, r as R);
    return r as R;
  };
}
