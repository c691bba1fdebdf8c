import path from 'node:path';
import { compareReports, worseBeyondNoise } from '../../core/reports/compare.js';
import { findRun } from '../../core/workspace/manifest.js';
import { buildReport, modelReport } from '../../core/reports/report.js';
import { compareIds, findVersion } from '../../core/root/root.js';
import { countDirections } from '../../core/run/settings.js';
import { EXIT, PtgError, UsageError } from '../../errors.js';
import { writeFileAtomic } from '../../io/files.js';
import { comparisonHtml } from '../../render/html.js';
import { gateText, warningText } from '../../render/comparison.js';
import { comparisonMarkdown } from '../../render/markdown.js';
import { type GlobalFlags, loadContext, printJson } from '../context.js';

export async function compareCommand(flags: GlobalFlags & { args: string[]; out?: string; failOnRegression?: boolean }): Promise<number> {
  const ctx = await loadContext(flags);
  if (flags.args.length < 1) throw new UsageError('Name at least one version to compare, like `ptg compare v1 v2.1@20260209_143022`.');
  const reports = [];
  for (const arg of flags.args) {
    // v2.1, v2.1@<run-id>, v2.1:opus@<run-id>: a matrix run without a model gives a column group per model.
    const [name, runId] = arg.split('@') as [string, string | undefined];
    const [version, model] = name.split(':') as [string, string | undefined];
    findVersion(ctx.root, version);
    const report = await buildReport(await findRun(ctx.workspace, version, runId));
    const models = [...new Set(report.experiments.map((e) => e.requestedModel).filter((m): m is string => Boolean(m)))];
    if (model && !models.includes(model)) throw new UsageError(`Run ${report.runId} of ${version} has no model ${model}${models.length ? `: it ran ${models.join(', ')}` : ''}.`);
    for (const m of model ? [model] : models) reports.push(modelReport(report, m));
    if (models.length === 0) reports.push(report);
  }
  if (flags.failOnRegression && reports.length < 2) {
    throw new UsageError('--fail-on-regression needs two runs, a baseline and a candidate: `ptg compare v1 v2 --fail-on-regression`.');
  }
  const comparison = compareReports(reports, compareIds, countDirections(ctx.root.config, reports.map((r) => r.version)));
  const markdown = comparisonMarkdown(comparison);
  const base = path.join(flags.out ? path.resolve(flags.out) : ctx.workspace, `comparison_${comparison.runs.map((r) => r.label.replace(/[^\w.@-]/g, '_')).join('_vs_')}`);
  await writeFileAtomic(`${base}.md`, markdown);
  await writeFileAtomic(`${base}.html`, comparisonHtml(comparison));
  // The JSON is the comparison's data; its warnings also carry the sentence the reports show.
  if (flags.json) printJson({ ...comparison, warnings: comparison.warnings.map((w) => ({ ...w, message: warningText(w, comparison) })) });
  else process.stdout.write(markdown);
  ctx.print();
  ctx.print(`Wrote ${base}.md and ${base}.html`);
  if (flags.failOnRegression) {
    // A gate that passes because nothing was compared would pass anything.
    if (comparison.metrics.every((m) => m.paired.every((p) => p.n === 0))) throw new PtgError(`The runs share no STP: --fail-on-regression has nothing to judge.`);
    const worse = worseBeyondNoise(comparison);
    if (worse.length) throw new PtgError(gateText(comparison, worse));
  }
  return EXIT.ok;
}
