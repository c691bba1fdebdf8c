// Issue 20: a run on Slurm (a private single-node cluster, test/support/slurm.ts) beside the same
// run on this machine: 16 agents of 2 s as 4 array tasks vs `-j 4` locally. Both do the same work
// four at a time; what Slurm adds is its scheduling (submission, the array's start, the report
// job after it) and ptg's start in each task and in the report job.
import { type PrivateSlurm, slurmUnavailable, startSlurm } from '../test/support/slurm.js';
import { type Benchmark, FAKE_AGENT, fmt, goal, makeRoot, makeSmallRepo, median, medianRatio, ptgOk, removeDir, table, tmpDir } from './support.js';

const STPS = 16;
const SHARDS = 4;
const SLEEP_MS = 2000;
const GOAL = 1.5;

export const slurmBench: Benchmark = {
  name: 'slurm',
  title: `slurm: ${STPS} agents of ${SLEEP_MS / 1000} s, ${SHARDS} at a time: --executor slurm --shards ${SHARDS} -j 1 vs locally -j ${SHARDS} (issue 20)`,
  async run(ctx) {
    const unavailable = slurmUnavailable();
    if (unavailable) {
      ctx.log(`skipped: ${unavailable}`);
      return [{ name: `slurm: --shards ${SHARDS} vs local -j ${SHARDS}`, measured: '-', goal: `≤ ${GOAL.toFixed(2)}×`, verdict: 'SKIP' }];
    }
    const dir = tmpDir();
    let slurm: PrivateSlurm | undefined;
    try {
      slurm = await startSlurm({ cpus: 8 });
      const upstream = makeSmallRepo(dir);
      const root = makeRoot(dir, STPS);
      await ptgOk(['setup', '--repo', upstream, '--no-python'], { cwd: root });
      const env = { ...slurm.env, FAKE_AGENT_SLEEP_MS: String(SLEEP_MS) };
      const t = { local: [] as number[], slurm: [] as number[], collect: [] as number[] };
      const local = async (rep: number) => {
        const id = `local-${rep}`;
        const run = await ptgOk(['run', 'v1', '-j', String(SHARDS), '--run-id', id, '--agent', FAKE_AGENT], { cwd: root, env });
        // The Slurm run's report job writes the reports: the local run's wall counts its collect too.
        const collect = await ptgOk(['collect', 'v1', id], { cwd: root, env });
        t.local.push(run.wallMs + collect.wallMs);
        t.collect.push(collect.wallMs);
      };
      const onSlurm = async (rep: number) => {
        // -j holds per task: one agent at a time in each of the 4 tasks, 4 at once as locally.
        const r = await ptgOk(['run', 'v1', '--executor', 'slurm', '--shards', String(SHARDS), '-j', '1', '--run-id', `slurm-${rep}`, '--agent', FAKE_AGENT], { cwd: root, env });
        t.slurm.push(r.wallMs);
      };
      for (let rep = 0; rep < ctx.reps; rep++) for (const step of rep % 2 === 0 ? [local, onSlurm] : [onSlurm, local]) await step(rep);

      const ideal = (STPS / SHARDS) * SLEEP_MS;
      const ratio = medianRatio(t.slurm, t.local);
      for (const line of table(
        ['', 'wall', '× ideal', '× local'],
        [
          [`ideal: ${STPS / SHARDS} rounds of ${SLEEP_MS / 1000} s`, fmt.s(ideal), fmt.x(1), ''],
          [`local: ptg run -j ${SHARDS}, then ptg collect (${fmt.s(median(t.collect))})`, fmt.s(median(t.local)), fmt.x(median(t.local) / ideal), fmt.x(1)],
          [`slurm: --executor slurm --shards ${SHARDS} -j 1 (submit, ${SHARDS} tasks, report job, waiting ptg)`, fmt.s(median(t.slurm)), fmt.x(median(t.slurm) / ideal), fmt.x(ratio)],
        ],
      )) ctx.log(line);
      ctx.log(
        `${ctx.reps} rep(s), medians; × local: the median of each repetition's ratio. The private cluster schedules with sched_interval=1 s; ` +
          `ptg waits on squeue once a second, so up to 1 s of the difference is its own polling. walls: local ${t.local.map(fmt.s).join(', ')}; slurm ${t.slurm.map(fmt.s).join(', ')}`,
      );
      return [goal(`slurm: --shards ${SHARDS} vs local -j ${SHARDS} (${STPS} × ${SLEEP_MS / 1000} s agents)`, `${fmt.s(median(t.slurm))} vs ${fmt.s(median(t.local))} = ${fmt.x(ratio)}`, `≤ ${GOAL.toFixed(2)}×`, ratio <= GOAL)];
    } finally {
      await slurm?.stop();
      removeDir(dir);
    }
  },
};
