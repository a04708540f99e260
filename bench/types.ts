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
  reps: number;
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
