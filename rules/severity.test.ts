import { expect, it } from 'vitest';
import { SEVERITIES, type Severity } from '../config/schema.js';
import { compareSeverity, isMoreSevere, maxSeverity, severityRank } from './severity.js';

it('ranks info < warning < critical < breach', () => {
  expect(SEVERITIES.map(severityRank)).toEqual([0, 1, 2, 3]);
  expect(isMoreSevere('breach', 'critical')).toBe(true);
  expect(isMoreSevere('warning', 'warning')).toBe(false);
  expect(compareSeverity('info', 'warning')).toBeLessThan(0);
  const list: Severity[] = ['critical', 'info', 'breach', 'warning'];
  expect([...list].sort(compareSeverity)).toEqual(['info', 'warning', 'critical', 'breach']);
  expect(maxSeverity(list)).toBe('breach');
  expect(maxSeverity(['warning', 'info'])).toBe('warning');
  expect(maxSeverity([])).toBeNull();
});
