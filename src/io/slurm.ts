// Slurm's own commands, as ptg reads them: sbatch submits, squeue says what is queued or running,
// scontrol what Slurm still remembers of a job, scancel ends jobs. Accounting (sacct) is often off
// on clusters, so nothing here needs it.
import { execFile } from 'node:child_process';
import { PtgError, UsageError } from '../errors.js';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one of Slurm's commands; a missing command is a refusal naming it. */
function slurm(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = (error as NodeJS.ErrnoException | null)?.code;
      if (code === 'ENOENT') {
        return reject(new UsageError(`${command} is not on PATH: --executor slurm needs Slurm's commands (sbatch, squeue, scancel), as on a cluster's login node.`));
      }
      if (error && typeof code !== 'number') return reject(error);
      resolve({ code: typeof code === 'number' ? code : 0, stdout, stderr });
    });
  });
}

/** Slurm's message without its `sbatch: error:` prefixes, on one line. */
export function slurmReason(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.replace(/^\w+: (error|fatal): /, '').trim()).filter(Boolean);
  return lines.join('; ') || 'no reason given';
}

/** Submits `script`; returns the job id. A refusal (a bad partition, a limit) is exit 2 with Slurm's reason. */
export async function sbatch(script: string, args: string[], env: NodeJS.ProcessEnv, what: string): Promise<string> {
  const r = await slurm('sbatch', ['--parsable', ...args, script], env);
  const id = /^(\d+)/.exec(r.stdout.trim())?.[1];
  if (r.code !== 0 || !id) throw new UsageError(`Slurm refused ${what}: ${slurmReason(r.stderr)} (sbatch ${args.join(' ')})`);
  return id;
}

/** One job, or one task of a job array, as squeue shows it. */
export interface QueuedJob {
  /** The array's job id (the job's own for a plain job). */
  jobId: string;
  /** The array task's index; undefined for a plain job or tasks not yet split out. */
  taskId?: number;
  state: string;
  /** Why it waits (`Priority`, `Dependency`, …), `None` while it runs. */
  reason: string;
  node?: string;
}

/** The queued and running jobs and tasks of `ids`; none once Slurm has let go of them. */
export async function squeue(ids: string[], env: NodeJS.ProcessEnv): Promise<QueuedJob[]> {
  const r = await slurm('squeue', ['-h', '-r', '-j', ids.join(','), '-o', '%F|%K|%T|%r|%N'], env);
  // Every id finished and forgotten: squeue says the ids are invalid.
  if (r.code !== 0) {
    if (/Invalid job id/i.test(r.stderr)) return [];
    throw new PtgError(`squeue failed: ${slurmReason(r.stderr)}`);
  }
  return r.stdout.split('\n').filter((l) => l.trim()).map((line) => {
    const [jobId, task, state, reason, node] = line.trim().split('|') as [string, string, string, string, string];
    return { jobId, taskId: /^\d+$/.test(task) ? Number(task) : undefined, state, reason, node: node || undefined };
  });
}

/** What `scontrol show job` still knows of a job (`JobState`, `Reason`, `ExitCode`, `NodeList`, …), or undefined. */
export async function jobRecord(id: string, env: NodeJS.ProcessEnv): Promise<Record<string, string> | undefined> {
  const r = await slurm('scontrol', ['show', 'job', '-o', id], env).catch(() => undefined);
  if (!r || r.code !== 0 || !r.stdout.trim()) return undefined;
  const record: Record<string, string> = {};
  for (const match of r.stdout.split('\n')[0]!.matchAll(/(\w+)=(\S*)/g)) record[match[1]!] ??= match[2]!;
  return record;
}

/**
 * Cancels the jobs (an array's every task with it); jobs already gone are no error. `options`:
 * scancel's own, such as `--batch --signal=TERM` (only the batch script's process is told).
 */
export async function scancel(ids: string[], env: NodeJS.ProcessEnv, options: string[] = []): Promise<void> {
  if (ids.length === 0) return;
  const r = await slurm('scancel', [...options, ...ids], env);
  if (r.code !== 0 && !/Invalid job id|already completing|completed/i.test(r.stderr)) throw new PtgError(`scancel ${ids.join(' ')} failed: ${slurmReason(r.stderr)}`);
}
