import path from 'node:path';
import fs from 'fs-extra';
import { formatDuration } from '../../core/root/duration.js';
import { EXPERIMENT_FILES } from '../../core/workspace/experiment-folder.js';
import { isAlive } from '../../core/workspace/lock.js';
import { listRuns } from '../../core/workspace/manifest.js';
import { EXIT } from '../../errors.js';
import { stateText } from '../../render/run.js';
import { c, table } from '../../render/style.js';
import { type GlobalFlags, loadContext, printJson } from '../context.js';

/** What is running now, read from the manifests: usable from another terminal. */
export async function statusCommand(flags: GlobalFlags & { all?: boolean }): Promise<number> {
  const ctx = await loadContext(flags);
  const runs = (await listRuns(ctx.workspace)).filter((r) => r.state === 'running' || flags.all);
  const now = Date.now();
  const view = [];
  for (const run of runs) {
    const alive = isAlive(run.pid);
    const experiments = [];
    for (const e of run.experiments) {
      const size = (await fs.stat(path.join(e.dir, EXPERIMENT_FILES.jsonl)).catch(() => undefined))?.size;
      experiments.push({ ...e, agentAlive: e.state === 'running' && isAlive(e.pid), outputBytes: size });
    }
    view.push({ run, alive, experiments });
  }
  if (flags.json) {
    printJson(view.map((v) => ({ version: v.run.version, runId: v.run.runId, pid: v.run.pid, alive: v.alive, state: v.run.state, experiments: v.experiments })));
    return EXIT.ok;
  }
  if (view.length === 0) {
    ctx.print('Nothing is running.' + (flags.all ? '' : ' (`ptg status --all` shows finished runs too; `ptg runs` lists them.)'));
    return EXIT.ok;
  }
  for (const { run, alive, experiments } of view) {
    const done = experiments.filter((e) => !['running', 'pending'].includes(e.state)).length;
    const state = run.state === 'running' ? (alive ? c.cyan(`running (ptg pid ${run.pid})`) : c.red(`stale: ptg (pid ${run.pid}) is gone`)) : run.state;
    ctx.print(`${c.bold(`${run.version} ${run.runId}`)} · ${state} · ${done}/${experiments.length} done · started ${run.startedAt}`);
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
    for (const e of experiments.filter((x) => x.agentAlive && !alive)) {
      ctx.print(c.red(`  STP ${e.stp}: agent pid ${e.pid} still runs without ptg: end it with \`kill -- -${e.pid}\`, then \`ptg run ${run.version} --resume ${run.runId}\`.`));
    }
    ctx.print();
  }
  return EXIT.ok;
}
