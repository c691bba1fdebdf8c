import path from 'node:path';
import fs from 'fs-extra';
import { formatDuration } from '../../core/root/duration.js';
import { EXPERIMENT_FILES } from '../../core/workspace/experiment-folder.js';
import { isAlive } from '../../core/workspace/lock.js';
import { findRun, listRuns } from '../../core/workspace/manifest.js';
import { queuedJobs, slurmLine } from './slurm-jobs.js';
import { EXIT } from '../../errors.js';
import { stateText } from '../../render/run.js';
import { c, table } from '../../render/style.js';
import { type GlobalFlags, loadContext, printJson } from '../context.js';

/** What is running now, read from the manifests: usable from another terminal. */
export async function statusCommand(flags: GlobalFlags & { all?: boolean; args?: string[] }): Promise<number> {
  const ctx = await loadContext(flags);
  const [version, runId] = flags.args ?? [];
  // A run named on the command line is shown whatever its state.
  const runs = runId ? [await findRun(ctx.workspace, version!, runId)] : (await listRuns(ctx.workspace, version)).filter((r) => r.state === 'running' || flags.all || version);
  const now = Date.now();
  const view = [];
  for (const run of runs) {
    const queued = await queuedJobs(run);
    // A Slurm run's ptg may have returned at once (--no-wait): the queue says whether it runs.
    const alive = queued ? queued.length > 0 : isAlive(run.pid);
    const experiments = [];
    for (const e of run.experiments) {
      const size = (await fs.stat(path.join(e.dir, EXPERIMENT_FILES.jsonl)).catch(() => undefined))?.size;
      experiments.push({ ...e, agentAlive: e.state === 'running' && isAlive(e.pid), outputBytes: size });
    }
    view.push({ run, alive, experiments, queued });
  }
  if (flags.json) {
    printJson(view.map((v) => ({ version: v.run.version, runId: v.run.runId, pid: v.run.pid, alive: v.alive, state: v.run.state, slurm: v.run.slurm && { ...v.run.slurm, queued: v.queued }, experiments: v.experiments })));
    return EXIT.ok;
  }
  if (view.length === 0) {
    ctx.print('Nothing is running.' + (flags.all ? '' : ' (`ptg status --all` shows finished runs too; `ptg runs` lists them.)'));
    return EXIT.ok;
  }
  for (const { run, alive, experiments, queued } of view) {
    const done = experiments.filter((e) => !['running', 'pending'].includes(e.state)).length;
    const runner = run.slurm ? 'on Slurm' : `ptg pid ${run.pid}`;
    const state = run.state === 'running' ? (alive ? c.cyan(`running (${runner})`) : c.red(`stale: ${run.slurm ? 'none of its Slurm jobs is queued' : `ptg (pid ${run.pid}) is gone`}`)) : run.state;
    ctx.print(`${c.bold(`${run.version} ${run.runId}`)} · ${state} · ${done}/${experiments.length} done · started ${run.startedAt}`);
    if (run.slurm) ctx.print(`  ${slurmLine(run, queued)}`);
    const rows = experiments.map((e) => [
      e.repeat ? `${e.stp} r${e.repeat}` : e.stp,
      stateText(e.state, e.exitCode),
      e.state === 'running' ? `${e.pid ?? '?'}${e.agentAlive ? '' : ' (gone)'}` : '—',
      e.state === 'running' && e.startedAt ? formatDuration(now - Date.parse(e.startedAt)) : formatDuration(e.durationMs),
      e.outputBytes === undefined ? '—' : `${(e.outputBytes / 1024).toFixed(0)} KB`,
    ]);
    for (const line of table(rows, ['STP', 'State', 'Agent pid', 'Elapsed', 'Output'])) ctx.print(`  ${line}`);
    if (run.sequential) {
      const at = experiments.findIndex((e) => e.state === 'running' || e.state === 'pending');
      const id = experiments[at]?.stp;
      const position = at < 0 ? `all ${experiments.length} done` : `STP ${at + 1} of ${experiments.length}${id === String(at + 1) ? '' : ` (STP id ${id})`}`;
      ctx.print(`  chain: ${position}`);
      for (const file of run.sequential.carry) {
        const steps = experiments.filter((e) => e.carried?.[file] !== undefined).map((e) => `${e.stp}: ${e.carried![file]}`);
        ctx.print(`  ${file} lines after each step: ${steps.length ? steps.join(', ') : '—'}`);
      }
    }
    for (const e of experiments.filter((x) => x.agentAlive && !alive && !run.slurm)) {
      ctx.print(c.red(`  STP ${e.stp}: agent pid ${e.pid} still runs without ptg: end it with \`kill -- -${e.pid}\`, then \`ptg run ${run.version} --resume ${run.runId}\`.`));
    }
    ctx.print();
  }
  return EXIT.ok;
}
