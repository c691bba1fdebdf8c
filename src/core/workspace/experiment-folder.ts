// What an experiment folder holds: its file names and the line status.txt carries. Apart from
// experiment.ts (which runs agents and git) so that `ptg status`, `ptg runs` and the reports can
// read a folder without loading execa or simple-git.
import { formatClock, formatDuration } from '../root/duration.js';
import type { ExperimentStatus } from './manifest.js';

/** The files of `experiments/<version>_experiment_<run-id>/<slot>/`, besides status.json (manifest.ts). */
export const EXPERIMENT_FILES = {
  prompt: 'prompt.md',
  jsonl: 'claude.jsonl',
  log: 'claude.log',
  stderr: 'stderr.log',
  statusText: 'status.txt',
  patch: 'changes.patch',
  changed: 'changed-files.txt',
  pyright: 'pyright.json',
  files: 'files',
  artifacts: 'artifacts',
};

/** An experiment's folder in its results folder: `stp_3`, or `stp_3_r2` for a repeat. */
export function stpFolder(e: { stp: string; repeat?: number }): string {
  return `stp_${e.stp}${e.repeat ? `_r${e.repeat}` : ''}`;
}

/** What names one experiment of a run in tables and lines: `3`, `3 opus`, `3 r2`, `3 opus r2`. */
export function experimentLabel(stp: string, model?: string, repeat?: number): string {
  return `${stp}${model ? ` ${model}` : ''}${repeat ? ` r${repeat}` : ''}`;
}

/** `[STP 3] ✓ Completed successfully`: the scripts' line, kept for people who grep for it. */
export function statusLine(status: Pick<ExperimentStatus, 'stp' | 'repeat' | 'requestedModel' | 'state' | 'exitCode' | 'signal' | 'timeoutMs' | 'idleTimeoutMs' | 'stopReason' | 'agentError' | 'usageLimit'>): string {
  const who = `[STP ${experimentLabel(status.stp, status.requestedModel, status.repeat)}]`;
  switch (status.state) {
    case 'succeeded':
      return `${who} ✓ Completed successfully`;
    case 'failed':
      if (status.exitCode === undefined && status.signal) return `${who} ✗ Killed by ${status.signal}`;
      return `${who} ✗ Failed with exit code ${status.exitCode ?? '?'}`;
    case 'agent_error':
      return `${who} ✗ Agent error: ${(status.agentError ?? '').split('\n')[0]}`;
    case 'timed_out':
      if (status.stopReason === 'idle') return `${who} ✗ Timed out: no output for ${formatDuration(status.idleTimeoutMs)}`;
      return `${who} ✗ Timed out after ${formatDuration(status.timeoutMs)}`;
    case 'skipped':
      return `${who} ✗ Skipped: the run's --max-cost was spent`;
    case 'interrupted':
      return `${who} ✗ Interrupted`;
    case 'usage_limited':
      return `${who} ✗ Usage limit${status.usageLimit?.resetsAt ? `, resets at ${formatClock(status.usageLimit.resetsAt)}` : status.usageLimit ? ', reset time not given' : ': not started'}`;
    default:
      return `${who} … ${status.state}`;
  }
}
