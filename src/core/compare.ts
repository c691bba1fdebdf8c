import type { Report, ReportExperiment } from './report.js';
import { mean, median } from './report.js';

export interface ComparedRun {
  version: string;
  runId: string;
  /** `v2.1@20260209_143022` */
  label: string;
  model?: string;
  agentVersion: string;
}

export interface ComparisonAggregate {
  experiments: number;
  succeeded: number;
  successRate: number;
  meanPyrightErrors?: number;
  totalCostUsd: number;
  meanCostUsd?: number;
  medianDurationMs?: number;
}

/** Side by side: one row per STP, one cell per run (undefined: that run has no such STP). */
export interface Comparison {
  format: 1;
  runs: ComparedRun[];
  rows: { stp: string; cells: (ReportExperiment | undefined)[] }[];
  aggregates: ComparisonAggregate[];
}

function aggregate(list: ReportExperiment[]): ComparisonAggregate {
  const errors = list.filter((e) => e.pyright && !e.pyright.failure).map((e) => e.pyright!.errors);
  const costs = list.filter((e) => e.costUsd !== undefined).map((e) => e.costUsd!);
  const succeeded = list.filter((e) => e.status === 'succeeded').length;
  return {
    experiments: list.length,
    succeeded,
    successRate: list.length ? succeeded / list.length : 0,
    meanPyrightErrors: mean(errors),
    totalCostUsd: Math.round(costs.reduce((a, b) => a + b, 0) * 1e6) / 1e6,
    meanCostUsd: mean(costs),
    medianDurationMs: median(list.filter((e) => e.durationMs !== undefined).map((e) => e.durationMs!)),
  };
}

/** Lines runs up by STP id, never by position: an STP missing from one run is a gap, not a shift. */
export function compareReports(reports: Report[], order: (a: string, b: string) => number): Comparison {
  const stps = [...new Set(reports.flatMap((r) => r.experiments.map((e) => e.stp)))].sort(order);
  return {
    format: 1,
    runs: reports.map((r) => ({
      version: r.version,
      runId: r.runId,
      label: `${r.version}${r.experiments.some((e) => e.requestedModel) && r.model ? `:${r.model}` : ''}@${r.runId}`,
      model: r.model,
      agentVersion: r.agent.version,
    })),
    rows: stps.map((stp) => ({
      stp,
      // With --repeat a run has several experiments per STP; the first stands in the row, the aggregate counts all.
      cells: reports.map((r) => r.experiments.find((e) => e.stp === stp)),
    })),
    aggregates: reports.map((r) => aggregate(r.experiments)),
  };
}
