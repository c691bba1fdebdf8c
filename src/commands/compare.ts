import path from 'node:path';
import { compareReports } from '../core/compare.js';
import { findRun } from '../core/manifest.js';
import { buildReport } from '../core/report.js';
import { compareIds, findVersion } from '../core/root.js';
import { EXIT, UsageError } from '../errors.js';
import { writeFileAtomic } from '../io/files.js';
import { comparisonHtml } from '../render/html.js';
import { comparisonMarkdown } from '../render/markdown.js';
import { type GlobalFlags, loadContext, printJson } from './context.js';

export async function compareCommand(flags: GlobalFlags & { args: string[]; out?: string }): Promise<number> {
  const ctx = await loadContext(flags);
  if (flags.args.length < 1) throw new UsageError('Name at least one version to compare, like `ptg compare v1 v2.1@20260209_143022`.');
  const reports = [];
  for (const arg of flags.args) {
    const [version, runId] = arg.split('@') as [string, string | undefined];
    findVersion(ctx.root, version);
    reports.push(await buildReport(await findRun(ctx.workspace, version, runId)));
  }
  const comparison = compareReports(reports, compareIds);
  const markdown = comparisonMarkdown(comparison);
  const base = path.join(flags.out ? path.resolve(flags.out) : ctx.workspace, `comparison_${comparison.runs.map((r) => `${r.version}@${r.runId}`).join('_vs_')}`);
  await writeFileAtomic(`${base}.md`, markdown);
  await writeFileAtomic(`${base}.html`, comparisonHtml(comparison));
  if (flags.json) printJson(comparison);
  else process.stdout.write(markdown);
  ctx.print();
  ctx.print(`Wrote ${base}.md and ${base}.html`);
  return EXIT.ok;
}
