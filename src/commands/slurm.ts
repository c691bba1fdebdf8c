// `ptg run --executor slurm`: the planned run submitted as a job array (core/run/slurm.ts), then
// followed as a local run is shown: a line per task and per experiment, the summary, the same exit
// codes. And `ptg slurm-finish`, the report job's command.
import path from 'node:path';
import { type SlurmCommand, type SlurmJobs, type SlurmSettings, finishSlurmRun, followSlurmRun, slurmJobs, submitSlurmRun } from '../core/run/slurm.js';
import type { RunPlan, RunRequest } from '../core/run/run.js';
import { experimentLabel, statusLine } from '../core/workspace/experiment-folder.js';
import { readStatus, type RunManifest, type ExperimentStatus } from '../core/workspace/manifest.js';
import { EXIT, exitForSignal, UsageError } from '../errors.js';
import { finishedLine, interruptLine, summaryLines } from '../render/run.js';
import { collectCommand } from './reports/collect.js';
import { type Context, type GlobalFlags, loadContext, printJson } from './context.js';
import type { RunFlags } from './run.js';
import { positiveInt } from './run.js';

/** The run's flags a task passes on to its own ptg; `--env NAME=VALUE` goes as NAME, its value through sbatch's environment. */
function taskFlags(flags: RunFlags): { runFlags: string[]; env: Record<string, string> } {
  const env: Record<string, string> = {};
  const runFlags: string[] = [];
  const one = (flag: string, value: string | undefined) => value !== undefined && runFlags.push(`${flag}=${value}`);
  one('--concurrency', flags.concurrency);
  one('--start-gap', flags.startGap);
  one('--max-wait', flags.maxWait);
  one('--timeout', flags.timeout);
  one('--idle-timeout', flags.idleTimeout);
  one('--agent', flags.agent);
  one('--check-concurrency', flags.checkConcurrency);
  one('--retries', flags.retries);
  one('--max-cost', flags.maxCost);
  one('--max-cost-per-experiment', flags.maxCostPerExperiment);
  one('--sandbox', flags.sandbox);
  one('--network', flags.network);
  for (const arg of flags.agentArg ?? []) one('--agent-arg', arg);
  for (const glob of flags.artifact ?? []) one('--artifact', glob);
  for (const p of flags.sandboxRo ?? []) one('--sandbox-ro', path.resolve(p));
  for (const p of flags.sandboxRw ?? []) one('--sandbox-rw', path.resolve(p));
  for (const entry of flags.env ?? []) {
    const [name, value] = entry.split(/=(.*)/s, 2) as [string, string | undefined];
    if (value !== undefined) env[name] = value;
    one('--env', name);
  }
  return { runFlags, env };
}

/** --shards, --sbatch-arg and their config keys. */
function settingsOf(flags: RunFlags, ctx: Context, plan: RunPlan): SlurmSettings {
  const { config } = ctx.root;
  const stps = new Set(plan.experiments.map((e) => e.stp)).size;
  return {
    shards: positiveInt(flags.shards, '--shards') ?? config.shards ?? stps,
    sbatchArgs: [...(config.slurm?.sbatchArgs ?? []), ...(flags.sbatchArg ?? [])],
  };
}

function jobsOf(plan: RunPlan, req: RunRequest, flags: RunFlags, ctx: Context): { jobs: SlurmJobs; settings: SlurmSettings; env: Record<string, string> } {
  const settings = settingsOf(flags, ctx, plan);
  const { runFlags, env } = taskFlags(flags);
  const command: SlurmCommand = { ptg: [process.execPath, path.resolve(process.argv[1]!), '--root', ctx.root.dir, '--workspace', ctx.workspace], runFlags, cwd: process.cwd() };
  return { jobs: slurmJobs(plan, req.workspace, settings, command), settings, env };
}

/** `--dry-run --executor slurm`: the scripts and the sbatch lines, nothing written or submitted. */
export function slurmDryRunLines(plan: RunPlan, req: RunRequest, flags: RunFlags, ctx: Context): string[] {
  const { jobs } = jobsOf(plan, req, flags, ctx);
  return [
    `Slurm: ${jobs.tasks.length} array task(s): ${jobs.tasks.map((t, i) => `${i}: STP ${t.join(',')}`).join(' · ')}`,
    `$ sbatch --parsable ${jobs.task.args.join(' ')} ${jobs.task.file}`,
    `$ sbatch --parsable ${jobs.report.args('<array job id>').join(' ')} ${jobs.report.file}`,
    `${jobs.task.file}:`,
    ...jobs.task.text.trimEnd().split('\n').map((l) => `  ${l}`),
    `${jobs.report.file}:`,
    ...jobs.report.text.trimEnd().split('\n').map((l) => `  ${l}`),
  ];
}

/** Submits the planned run, then (unless --no-wait) follows it to its end as a local run is shown. */
export async function runOnSlurm(plan: RunPlan, req: RunRequest, flags: RunFlags, ctx: Context): Promise<number> {
  const { jobs, settings, env } = jobsOf(plan, req, flags, ctx);
  const { manifest } = plan;
  const sub = await submitSlurmRun(plan, req.workspace, settings, jobs, { ...process.env, ...env });
  const cancel = `scancel ${sub.arrayJobId} ${sub.reportJobId}`;
  ctx.print(`Submitted ${req.version.name} run ${manifest.runId} to Slurm: job array ${sub.arrayJobId} (${sub.tasks.length} task(s), ${plan.experiments.length} experiment(s)), report job ${sub.reportJobId} after it · scripts in ${jobs.folder}`);
  if (flags.wait === false) {
    if (flags.json) printJson({ version: req.version.name, runId: manifest.runId, slurm: sub });
    ctx.result(`${sub.arrayJobId} ${sub.reportJobId}`);
    ctx.print(`Follow it with \`ptg status ${req.version.name} ${manifest.runId}\`; cancel it with \`${cancel}\`.`);
    return EXIT.ok;
  }
  flags.signal.addEventListener('abort', () => process.stderr.write(`${interruptLine(String(flags.signal.reason ?? 'Interrupted'))} (${cancel})\n`));
  const label = (e: { stp: string; model?: string; repeat?: number }) => experimentLabel(e.stp, e.model, e.repeat);
  const { manifest: done, settledHere } = await followSlurmRun(req.workspace, manifest, process.env, flags.signal, {
    onTask: (index, job) =>
      ctx.print(`[task ${index}: STP ${sub.tasks[index]!.join(',')}] ${job.state}${job.node && job.state === 'RUNNING' ? ` on ${job.node}` : ''}${job.reason && job.reason !== 'None' ? ` (${job.reason})` : ''}`),
    onExperiment: (e, status) => {
      if (e.state === 'running') ctx.print(`[STP ${label(e)}] started${status?.slurm?.node ? ` on ${status.slurm.node}` : ''}`);
      else if (e.state !== 'pending' && status) ctx.print(finishedLine(status, statusLine(status)));
    },
  });
  if (settledHere && !flags.signal.aborted) {
    ctx.print(`The report job ${sub.reportJobId} did not settle the run (its output: ${path.join(jobs.folder, 'report.out')}): ptg settled it and writes the reports here.`);
    await collectCommand({ root: flags.root, workspace: flags.workspace, quiet: true, args: [manifest.version, manifest.runId] });
  }
  return summarise(done, ctx, flags);
}

async function summarise(manifest: RunManifest, ctx: Context, flags: RunFlags): Promise<number> {
  const statuses = (await Promise.all(manifest.experiments.map((e) => readStatus(e.dir)))).filter((s): s is ExperimentStatus => Boolean(s));
  const interrupted = manifest.state === 'interrupted';
  const root = flags.root ? ` --root ${flags.root}` : '';
  const wsFlag = flags.workspace ? ` --workspace ${flags.workspace}` : '';
  if (flags.json) printJson(manifest);
  ctx.print();
  const lines = summaryLines({ manifest, statuses, interrupted }, `ptg collect ${manifest.version} ${manifest.runId}${root}${wsFlag}`);
  // The report job has written the reports (unless the run was interrupted): where they are replaces `Next: ptg collect`.
  if (!interrupted) lines.splice(-1, 1, `Reports: ${path.join(ctx.workspace, `results_${manifest.version}_${manifest.runId}`, 'summary.md')}`);
  for (const line of lines) ctx.result(line);
  if (interrupted) return exitForSignal(flags.signal.reason);
  if (manifest.experiments.every((e) => e.state === 'succeeded')) return EXIT.ok;
  return manifest.state === 'usage_limited' ? EXIT.usageLimit : EXIT.failed;
}

/** The report job: settle what the tasks left unsaid, then write the reports as `ptg collect` does. */
export async function slurmFinishCommand(flags: GlobalFlags & { args: string[] }): Promise<number> {
  const [version, runId] = flags.args as [string, string];
  if (!process.env.SLURM_JOB_ID) throw new UsageError('ptg slurm-finish is the report job of a run submitted with --executor slurm; it runs under Slurm.');
  const ctx = await loadContext(flags);
  await finishSlurmRun(ctx.workspace, version, runId, process.env, false);
  return collectCommand({ ...flags, args: [version, runId] });
}
