/**
 * The golden corpus (test/corpus/README.md): real replies published by others, each with a human-judged
 * final state, collected-or-not and hub sequence. Every sample goes through the provider's reply parser
 * and foldEvents exactly as a first poll would; one test per sample, named by its file.
 */
import { describe, expect, it } from 'vitest';
import { collectedText, formatHubs, judge, loadCorpus } from './corpus/corpus.js';

const samples = loadCorpus();

describe('golden corpus of real replies', () => {
  it('is big and varied enough to mean something', () => {
    expect(samples.length).toBeGreaterThanOrEqual(80);
    expect(new Set(samples.map((s) => s.carrier).filter((c) => c !== 'N/A')).size).toBeGreaterThanOrEqual(12);
    expect(new Set(samples.map((s) => s.provider))).toEqual(new Set(['kuaidi100', 'kdniao', 'seventeentrack']));
    expect(new Set(samples.map((s) => s.file)).size).toBe(samples.length);
  });

  for (const sample of samples) {
    it(sample.file, () => {
      const v = judge(sample);
      const e = sample.expect;
      expect({ outcome: v.run.outcome, finalStatus: v.run.finalStatus, collected: v.collected ? collectedText(e.collected, e.collectedAt) : collectedText(v.run.collected, v.run.collectedAt), hubs: formatHubs(v.hubs ? e.hubs : v.run.hubs) }).toEqual({
        outcome: e.outcome ?? 'ok',
        finalStatus: e.finalStatus,
        collected: collectedText(e.collected, e.collectedAt),
        hubs: formatHubs(e.hubs),
      });
    });
  }
});
