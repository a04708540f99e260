import { describe, expect, it } from 'vitest';
import { displayWidth, fit, renderTable } from './table.js';

describe('CLI tables', () => {
  it('counts a Chinese character as two columns', () => {
    expect(displayWidth('快件已到达【北京转运中心】')).toBe(26);
    expect(displayWidth('SF1234')).toBe(6);
  });

  it('cuts to the width with an ellipsis and never splits a wide character', () => {
    expect(fit('北京转运中心', 7)).toBe('北京转…');
    expect(displayWidth(fit('北京转运中心', 7))).toBe(7);
    expect(fit('abc', 5)).toBe('abc  ');
  });

  it('lines columns up after Chinese text', () => {
    const out = renderTable(['hub', 'status'], [['北京转运中心', 'arrived_at_hub'], ['望京网点', 'delivered']]);
    const lines = out.trimEnd().split('\n');
    const statusColumn = lines.map((l) => displayWidth(l.slice(0, l.search(/(?:status|arrived|delivered)/))));
    expect(new Set(statusColumn).size).toBe(1);
  });
});
