import path from 'node:path';
import { collectMerged, collectRun } from '../../core/reports/collect.js';
import { findVersion } from '../../core/root/root.js';
import { EXIT, UsageError } from '../../errors.js';
import { reportHtml, transcriptHtml } from '../../render/html.js';
import { junitXml } from '../../render/junit.js';
import { summaryMarkdown } from '../../render/markdown.js';
import { money } from '../../render/run.js';
import { sym } from '../../render/style.js';
import { type GlobalFlags, loadContext, printJson } from '../context.js';

export interface CollectFlags extends GlobalFlags {
  args: string[];
  strict?: boolean;
  out?: string;
  from?: string[];
}

export async function collectCommand(flags: CollectFlags): Promise<number> {
  const ctx = await loadContext(flags);
  const [versionName, runId] = flags.args as [string, string | undefined];
  findVersion(ctx.root, versionName);
  const render = {
    markdown: summaryMarkdown,
    html: reportHtml,
    transcript: transcriptHtml,
    junit: (r: Parameters<typeof junitXml>[0]) => junitXml(r, { strict: flags.strict }),
  };
  const outRoot = flags.out ? path.resolve(flags.out) : ctx.workspace;
  if (flags.from && !runId) throw new UsageError('collect --from needs the run id: ptg collect <version> <run-id> --from DIR...');
  const { report, dir, stepSummary } = flags.from?.length
    ? await collectMerged(flags.from, versionName, runId!, outRoot, render, process.env)
    : await collectRun(ctx.workspace, versionName, runId, outRoot, render, process.env);
  if (flags.json) printJson(report);
  const t = report.totals;
  if (report.runState === 'running') ctx.print(`${sym.warn} Run ${report.runId} is still running: collected what has finished.`);
  ctx.result(`${t.succeeded === t.experiments ? sym.ok : sym.warn} ${report.version} ${report.runId}: ${t.succeeded}/${t.experiments} succeeded · ${Object.entries(t.checks).map(([name, c]) => `${name} ${c.passed}/${c.passed + c.failed}`).join(' · ') || 'no checks'} · ${money(t.costUsd)}`);
  ctx.result(`  ${path.join(dir, 'summary.md')}`);
  ctx.result(`  ${path.join(dir, 'report.html')}`);
  for (const file of report.carried ?? []) {
    const last = report.experiments.filter((e) => e.carry?.left[file] !== undefined).at(-1);
    ctx.result(`  ${path.join(dir, 'carry', file)}${last ? ` (${last.carry!.left[file]} lines, left by STP ${last.stp})` : ' (no step left one)'}`);
  }
  if (stepSummary) ctx.print(`  appended to ${stepSummary}`);
  return EXIT.ok;
}
