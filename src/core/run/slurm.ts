// A run carried out by Slurm (`ptg run --executor slurm`): the planned experiments dealt to the
// tasks of one job array, each task this same ptg on its share (`--resume <run-id> --stp …`,
// writing its own experiments into the shared manifest), and one job after the array that settles
// what the tasks left unsaid and writes the reports. The workspace is on a file system every node
// sees. Slurm's accounting is often off: the queue (squeue), what scontrol still remembers, the
// tasks' own output and the records are all this reads.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import fs from 'fs-extra';
import { PtgError } from '../../errors.js';
import { writeJsonAtomic } from '../../io/files.js';
import { jobRecord, type QueuedJob, sbatch, scancel, squeue } from '../../io/slurm.js';
import { passedOf } from '../workspace/check-results.js';
import {
  type ExperimentStatus,
  type ManifestExperiment,
  readManifest,
  readStatus,
  type RunManifest,
  runDir,
  type SlurmPlace,
  type SlurmSubmission,
  statusFile,
  writeManifest,
} from '../workspace/manifest.js';
import { updateManifest } from '../workspace/shared-manifest.js';
import type { RunPlan } from './run.js';

export interface SlurmSettings {
  /** Array tasks at most: fewer when there are fewer STPs. */
  shards: number;
  /** Passed to both sbatch calls: `--partition=gpu`, `--time=2:00:00`, `--account=…`. */
  sbatchArgs: string[];
}

/** How a task and the report job start ptg: the same node and ptg, the run's flags. */
export interface SlurmCommand {
  /** `node /…/bin/ptg.js --root … --workspace …` */
  ptg: string[];
  /** The run's flags a task passes on (its agent, timeouts, sandbox, …), values of secrets never among them. */
  runFlags: string[];
  /** Where the jobs start (the folder ptg was started in). */
  cwd: string;
}

export interface SlurmJobs {
  folder: string;
  tasks: string[][];
  task: { file: string; text: string; args: string[] };
  report: { file: string; text: string; args: (arrayJobId: string) => string[] };
}

const FINAL = new Set(['succeeded', 'failed', 'agent_error', 'timed_out', 'skipped', 'usage_limited']);

/** The STPs of the plan dealt round robin in their order to at most `shards` tasks (a sequential run's chain stays whole): two tasks never share a slot. */
export function dealTasks(plan: RunPlan, shards: number): string[][] {
  const stps = [...new Set(plan.experiments.map((e) => e.stp))];
  const n = plan.manifest.sequential ? 1 : Math.max(1, Math.min(shards, stps.length));
  const tasks: string[][] = Array.from({ length: n }, () => []);
  stps.forEach((stp, i) => tasks[i % n]!.push(stp));
  return tasks;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The two scripts and the sbatch arguments of a run; nothing is written. */
export function slurmJobs(plan: RunPlan, ws: string, settings: SlurmSettings, command: SlurmCommand): SlurmJobs {
  const { version, runId } = plan.manifest;
  const folder = path.join(runDir(ws, version, runId), 'slurm');
  const tasks = dealTasks(plan, settings.shards);
  const ptg = command.ptg.map(quote).join(' ');
  const header = (what: string) => `#!/bin/bash\n# ptg run ${version} ${runId} on Slurm: ${what}\nset -eu\n`;
  const taskText =
    header('each task of the job array runs the STPs of its index in STPS (the workspace is on a file system every node sees).') +
    `STPS=(${tasks.map((t) => quote(t.join(','))).join(' ')})\n` +
    `exec ${ptg} run ${quote(version)} --resume ${quote(runId)} --slurm-task --stp "\${STPS[$SLURM_ARRAY_TASK_ID]}" ${command.runFlags.map(quote).join(' ')}\n`;
  const reportText = header('after every task has ended, settles what the tasks left unsaid and writes the reports.') + `exec ${ptg} slurm-finish ${quote(version)} ${quote(runId)}\n`;
  const common = [`--chdir=${command.cwd}`, ...settings.sbatchArgs];
  return {
    folder,
    tasks,
    task: { file: path.join(folder, 'task.sh'), text: taskText, args: [`--job-name=ptg-${version}-${runId}`, `--array=0-${tasks.length - 1}`, `--output=${path.join(folder, 'task-%a.out')}`, ...common] },
    report: {
      file: path.join(folder, 'report.sh'),
      text: reportText,
      args: (arrayJobId) => [`--job-name=ptg-${version}-${runId}-report`, `--dependency=afterany:${arrayJobId}`, `--output=${path.join(folder, 'report.out')}`, ...common],
    },
  };
}

/**
 * Writes the scripts and the manifest, then submits the array and the report job after it. A
 * refused submission is exit 2 with Slurm's reason; nothing of the run is left queued, and a fresh
 * run gives its id back.
 */
export async function submitSlurmRun(plan: RunPlan, ws: string, settings: SlurmSettings, jobs: SlurmJobs, env: NodeJS.ProcessEnv): Promise<SlurmSubmission> {
  const { manifest } = plan;
  const previous = plan.claimed ? undefined : await readManifest(ws, manifest.version, manifest.runId);
  await fs.ensureDir(jobs.folder);
  await fs.writeFile(jobs.task.file, jobs.task.text, { mode: 0o755 });
  await fs.writeFile(jobs.report.file, jobs.report.text, { mode: 0o755 });
  const earlier = previous?.slurm ? [...(previous.slurm.earlierJobs ?? []), previous.slurm.arrayJobId, previous.slurm.reportJobId].filter((id): id is string => Boolean(id)) : undefined;
  manifest.slurm = { submittedAt: new Date().toISOString(), scripts: { task: jobs.task.file, report: jobs.report.file }, sbatchArgs: settings.sbatchArgs, tasks: jobs.tasks, earlierJobs: earlier };
  // Tasks read the manifest as they start: it is there before the first one can.
  await writeManifest(ws, manifest);
  let arrayJobId: string | undefined;
  try {
    arrayJobId = await sbatch(jobs.task.file, jobs.task.args, env, `the job array of run ${manifest.runId}`);
    const reportJobId = await sbatch(jobs.report.file, jobs.report.args(arrayJobId), env, `the report job of run ${manifest.runId}`);
    await updateManifest(ws, manifest.version, manifest.runId, (m) => Object.assign(m.slurm!, { arrayJobId, reportJobId }));
    return Object.assign(manifest.slurm, { arrayJobId, reportJobId });
  } catch (error) {
    if (arrayJobId) await scancel([arrayJobId], env).catch(() => undefined);
    if (previous) await writeManifest(ws, previous);
    else await fs.remove(runDir(ws, manifest.version, manifest.runId));
    throw error;
  }
}

export interface SlurmProgress {
  /** A task's state changed in the queue (PENDING, RUNNING, …). */
  onTask?(index: number, job: QueuedJob): void;
  /** An experiment's state changed in the manifest. */
  onExperiment?(e: ManifestExperiment, status: ExperimentStatus | undefined): void;
}

/**
 * The run's jobs while any is queued; an aborted signal cancels them all and waits until Slurm has
 * let go of them. `settledHere`: the report job did not settle the run (cancelled, or it failed), this did.
 */
export async function followSlurmRun(
  ws: string,
  manifest: RunManifest,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
  progress: SlurmProgress = {},
): Promise<{ manifest: RunManifest; settledHere: boolean }> {
  const { version, runId } = manifest;
  const ids = jobIds(manifest.slurm!);
  const seen = new Map<string, string>();
  const changed = (key: string, value: string) => seen.get(key) !== value && Boolean(seen.set(key, value));
  for (;;) {
    const queued = signal.aborted ? [] : await squeue(ids, env);
    const now = (await readManifest(ws, version, runId)) ?? manifest;
    for (const e of now.experiments) if (changed(e.dir, e.state)) progress.onExperiment?.(e, await readStatus(e.dir));
    for (const job of queued.filter((j) => j.jobId === manifest.slurm!.arrayJobId && j.taskId !== undefined)) {
      if (changed(`task ${job.taskId}`, `${job.state} ${job.node}`)) progress.onTask?.(job.taskId!, job);
    }
    if (signal.aborted || queued.length === 0) break;
    await sleep(1000, undefined, { signal }).catch(() => undefined);
  }
  if (signal.aborted) await cancelGently(ids, env);
  const last = await readManifest(ws, version, runId);
  if (last && last.state !== 'running' && !signal.aborted) return { manifest: last, settledHere: false };
  return { manifest: await finishSlurmRun(ws, version, runId, env, signal.aborted), settledHere: true };
}

/** Every id of a submission: the array and the report job. */
export function jobIds(sub: SlurmSubmission): string[] {
  return [sub.arrayJobId, sub.reportJobId].filter((id): id is string => Boolean(id));
}

/**
 * Ctrl-C of the waiting ptg: what has not started never will; each running task's ptg is sent
 * SIGTERM alone and winds down as a local run does (its agents ended by it, so recorded as
 * interrupted, not killed under it by Slurm). Whatever is left after 8 s is cancelled outright.
 */
async function cancelGently(ids: string[], env: NodeJS.ProcessEnv): Promise<void> {
  await scancel(ids, env, ['--state=PENDING']).catch(() => undefined);
  await scancel(ids, env, ['--batch', '--signal=TERM']).catch(() => undefined);
  if (await drained(ids, env, 8_000)) return;
  await scancel(ids, env);
  if (!(await drained(ids, env, 60_000))) throw new PtgError(`Slurm still lists jobs ${ids.join(', ')} a minute after scancel: check \`squeue -j ${ids.join(',')}\`.`);
}

/** Waits until none of the jobs is in the queue (their processes ended); false after `ms`. */
async function drained(ids: string[], env: NodeJS.ProcessEnv, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while ((await squeue(ids, env)).length > 0) {
    if (Date.now() > until) return false;
    await sleep(250);
  }
  return true;
}

/**
 * The run's end, once its tasks are gone: an experiment whose task ended without recording its
 * end is failed with the task's cause (cancelled, out of memory, out of time, a node failure), or
 * interrupted when ptg itself cancelled the run. Idempotent: the report job and the waiting ptg
 * may both call it.
 */
export async function finishSlurmRun(ws: string, version: string, runId: string, env: NodeJS.ProcessEnv, interrupted: boolean): Promise<RunManifest> {
  const manifest = await readManifest(ws, version, runId);
  if (!manifest?.slurm) throw new PtgError(`Run ${runId} of ${version} was not submitted to Slurm.`);
  const sub = manifest.slurm;
  const causes = new Map<number, Promise<TaskEnd>>();
  const taskEnd = (stp: string) => {
    const index = sub.tasks.findIndex((t) => t.includes(stp));
    if (!causes.has(index)) causes.set(index, taskCause(sub, index, env));
    return causes.get(index)!;
  };
  const settled = new Map<string, ExperimentStatus>();
  for (const e of manifest.experiments.filter((x) => x.state !== 'succeeded' && x.state !== 'skipped')) {
    const found = await readStatus(e.dir);
    // A task stopped at a usage limit leaves its unstarted experiments so, without a status: not lost ones.
    const open = found ? !FINAL.has(found.state) : e.state !== 'usage_limited';
    let status = found;
    if (interrupted && open) status = { ...(found ?? blankStatus(manifest, e)), state: 'interrupted', stopReason: 'interrupt' };
    else if (!interrupted && (open || found?.signal)) {
      // Slurm ended the task (scancel, out of memory or time, a node failure): its agents died with it.
      const end = await taskEnd(e.stp);
      const agentError = found?.agentError && !open ? `${end.cause}; ${found.agentError}` : end.cause;
      if (open || end.abnormal) status = { ...(found ?? blankStatus(manifest, e)), state: 'failed', agentError, finishedAt: found?.finishedAt ?? new Date().toISOString(), slurm: found?.slurm ?? end.place };
    }
    if (status !== found) await writeJsonAtomic(statusFile(e.dir), status!);
    if (status && status.state !== e.state) settled.set(e.dir, status);
  }
  return updateManifest(ws, version, runId, (m) => {
    for (const e of m.experiments) {
      const s = settled.get(e.dir);
      if (s) Object.assign(e, { state: s.state, finishedAt: s.finishedAt, durationMs: s.durationMs, exitCode: s.exitCode, turns: s.turns, costUsd: s.costUsd, checks: s.checks && passedOf(s.checks), pid: undefined });
    }
    m.state = interrupted ? 'interrupted' : m.experiments.some((e) => e.state === 'usage_limited') ? 'usage_limited' : 'finished';
    m.finishedAt = new Date().toISOString();
    return m;
  });
}

/** The status of an experiment whose task never wrote one. */
function blankStatus(m: RunManifest, e: ManifestExperiment): ExperimentStatus {
  return { format: 1, stp: e.stp, version: m.version, runId: m.runId, repeat: e.repeat, requestedModel: e.model, slot: e.slot, baseCommit: e.baseCommit, state: 'pending' };
}

interface TaskEnd {
  cause: string;
  place: SlurmPlace;
  /** Slurm ended it (cancelled, out of memory or time, a node failure), not ptg's own exit. */
  abnormal: boolean;
}

const NORMAL_END = new Set(['COMPLETED', 'FAILED', 'COMPLETING']);

/**
 * How task `index` ended, in one line: what scontrol still knows of it (state, reason, exit),
 * else what slurmstepd wrote into the task's output.
 */
async function taskCause(sub: SlurmSubmission, index: number, env: NodeJS.ProcessEnv): Promise<TaskEnd> {
  const id = `${sub.arrayJobId}_${index}`;
  const record = await jobRecord(id, env);
  const output = await tail(path.join(path.dirname(sub.scripts.task), `task-${index}.out`));
  const stepd = /\*\*\* (?:JOB|STEP) \S+ ON (\S+) (.*?) \*\*\*/.exec(output);
  const oom = /slurmstepd: .*oom[-_]kill/i.test(output) ? 'OUT_OF_MEMORY' : undefined;
  const node = record?.NodeList && record.NodeList !== '(null)' ? record.NodeList : stepd?.[1];
  const state = record?.JobState ?? oom ?? (stepd ? stepd[2]!.replace(/ AT \S+/, '') : undefined);
  const detail = [
    record?.Reason && record.Reason !== 'None' ? record.Reason : '',
    record?.ExitCode && record.ExitCode !== '0:0' ? `exit ${record.ExitCode}` : '',
    stepd && record ? `slurmstepd: ${stepd[2]}` : '',
  ].filter(Boolean);
  const ended = state ? `ended ${state}${detail.length ? ` (${detail.join(', ')})` : ''}` : 'ended';
  return {
    cause: `Slurm task ${index} (job ${id}${node ? ` on ${node}` : ''}) ${ended} before this experiment's end was recorded`,
    place: { jobId: sub.arrayJobId!, arrayTaskId: index, node },
    abnormal: Boolean(stepd || oom || (state && !NORMAL_END.has(state)) || record?.Reason === 'JobLaunchFailure'),
  };
}

async function tail(file: string, bytes = 16 * 1024): Promise<string> {
  const handle = await fs.open(file, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const { size } = await fs.fstat(handle);
    const buffer = Buffer.alloc(Math.min(size, bytes));
    await fs.read(handle, buffer, 0, buffer.length, size - buffer.length);
    return buffer.toString('utf8');
  } finally {
    await fs.close(handle);
  }
}

/** Where this ptg runs when it is a task of a Slurm job array: from the variables Slurm sets. */
export function slurmPlaceFromEnv(env: NodeJS.ProcessEnv): SlurmPlace {
  const jobId = env.SLURM_ARRAY_JOB_ID;
  const task = env.SLURM_ARRAY_TASK_ID;
  if (!jobId || !task || !/^\d+$/.test(task)) throw new PtgError('--slurm-task is for the tasks of a run submitted with --executor slurm: SLURM_ARRAY_JOB_ID and SLURM_ARRAY_TASK_ID are not set.', 2);
  return { jobId, arrayTaskId: Number(task), node: env.SLURMD_NODENAME };
}
