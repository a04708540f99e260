import type { BenchEnv } from './context.js';

/** One line of the results table: our path vs the raw baseline of the same work, medians over the reps. */
export interface ResultRow {
  scenario: string;
  label: string;
  /** What an item is: parcel rows, events, shipments, jobs. */
  unit: string;
  measured: boolean;
  items: number;
  seconds: number;
  itemsPerSec: number;
  baseline: string | null;
  baselineSeconds: number | null;
  baselineItemsPerSec: number | null;
  /** ours items/s ÷ baseline items/s. */
  ratio: number | null;
  peakRssMb: number | null;
  /** Shipments handled per second on our path, for the external ceiling line (null when not applicable). */
  shipmentsPerSec: number | null;
  target: string;
  /** null: no target for this line, or not measured. */
  met: boolean | null;
  note?: string;
  /** Correctness facts of the run (rows written on replay, jobs added on a second run…), per rep. */
  facts: Record<string, number[]>;
  runs: { ours: number[]; baseline: number[] };
}

export interface ScenarioContext {
  env: BenchEnv;
  shipments: number;
  /** Repetitions asked for; `another` decides how many run. */
  reps: number;
  /**
   * Whether to start repetition `rep` (0-based): the first always runs; a further one runs while `reps` allows
   * and the scenario, at its pace so far, would still finish within the harness's repetition budget.
   */
  another(rep: number): boolean;
}

/** `another` for a scenario started at `startedMs`: at most `reps`, and more than one only within `budgetSeconds`. */
export function repetitionBudget(reps: number, budgetSeconds: number, startedMs: number, nowMs: () => number): (rep: number) => boolean {
  return (rep) => {
    if (rep === 0) return true;
    if (rep >= reps) return false;
    const perRep = (nowMs() - startedMs) / 1000 / rep;
    return perRep * (rep + 1) <= budgetSeconds;
  };
}

export interface Scenario {
  id: string;
  title: string;
  run(ctx: ScenarioContext): Promise<ResultRow[]>;
}

/** Sides of repetition `rep`: ours first on even reps, baseline first on odd ones. */
export function sidesOf(rep: number): ('ours' | 'baseline')[] {
  return rep % 2 === 0 ? ['ours', 'baseline'] : ['baseline', 'ours'];
}
