// A Slurm run seen from the workspace: which of its jobs the queue still holds, in what state.
// Its ptg may have returned at once (--no-wait): the queue, not a pid, says whether it runs.
import { jobIds } from '../../core/run/slurm.js';
import type { RunManifest } from '../../core/workspace/manifest.js';
import { type QueuedJob, squeue } from '../../io/slurm.js';

/** The run's queued jobs and tasks; undefined when this machine has no squeue (or the run is not on Slurm). */
export async function queuedJobs(run: RunManifest): Promise<QueuedJob[] | undefined> {
  if (!run.slurm || jobIds(run.slurm).length === 0) return undefined;
  return squeue(jobIds(run.slurm), process.env).catch(() => undefined);
}

/** One line: the array's tasks and the report job as the queue shows them. */
export function slurmLine(run: RunManifest, queued: QueuedJob[] | undefined): string {
  const sub = run.slurm!;
  const jobs = `job array ${sub.arrayJobId} (${sub.tasks.length} task(s)), report job ${sub.reportJobId}`;
  if (!queued) return `slurm: ${jobs} · squeue is not available here`;
  if (queued.length === 0) return `slurm: ${jobs} · none queued any more`;
  const state = (j: QueuedJob) => `${j.state}${j.node && j.state === 'RUNNING' ? ` on ${j.node}` : ''}${j.reason && j.reason !== 'None' ? ` (${j.reason})` : ''}`;
  const tasks = queued.filter((j) => j.jobId === sub.arrayJobId).map((j) => `task ${j.taskId ?? '?'} ${state(j)}`);
  const report = queued.find((j) => j.jobId === sub.reportJobId);
  return `slurm: ${jobs} · ${[...tasks, report ? `report ${state(report)}` : ''].filter(Boolean).join(', ')}`;
}
