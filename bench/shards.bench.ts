// Issue 6: one run split in shards, as a CI matrix or an Indexed Job would run it: 4 ptg
// processes at once, each in its own workspace (4 machines), beside one process with -j equal to
// the sum on the same STPs. On one machine the shards share its cores: the ratio is what
// sharding costs on top of the work, not what 4 machines would gain.
import path from 'node:path';
import { type Benchmark, FAKE_AGENT, fmt, goal, makeRoot, makeSmallRepo, median, medianRatio, ptg, ptgOk, removeDir, table, tmpDir } from './support.js';

const STPS = 100;
const SHARDS = 4;
const JOBS_EACH = 4;
const JOBS = SHARDS * JOBS_EACH;
const SLEEP_MS = 200;
const RATIO_GOAL = 1.2;
/** Both sides: ceil(100/16) = ceil(25/4) = 7 rounds of one agent. */
const IDEAL_MS = Math.max(Math.ceil(STPS / JOBS), Math.ceil(Math.ceil(STPS / SHARDS) / JOBS_EACH)) * SLEEP_MS;

/** True when this ptg build has `run --shard` and `--run-id`. */
async function hasShards(cwd: string): Promise<boolean> {
  const r = await ptg(['run', '--help'], { cwd, timeoutMs: 30_000 });
  return r.code === 0 && /--shard\b/.test(r.stdout) && /--run-id\b/.test(r.stdout);
}

export const shardsBench: Benchmark = {
  name: 'shards',
  title: `shards: ${STPS} experiments as ${SHARDS} ptg processes at once (--shard i/${SHARDS} -j ${JOBS_EACH}, one workspace each) vs one ptg -j ${JOBS}, agents of ${SLEEP_MS / 1000} s (issue 6)`,
  async run(ctx) {
    const dir = tmpDir();
    try {
      if (!(await hasShards(dir))) {
        ctx.log('skipped: ptg run has no --shard / --run-id');
        return [{ name: `shards: ${SHARDS} shards at once vs one -j ${JOBS}`, measured: '-', goal: `≤ ${RATIO_GOAL.toFixed(2)}×`, verdict: 'SKIP' }];
      }
      const upstream = makeSmallRepo(dir);
      const root = makeRoot(dir, STPS, (id) => `# STP ${id}\nfake: sleep ${SLEEP_MS}\n`);
      const wsAll = path.join(dir, 'ws-all');
      const wsOf = (i: number) => path.join(dir, `ws${i}`);
      const shardIds = Array.from({ length: SHARDS }, (_, i) => i + 1);

      // Setup, informative: the 4 machines at once, then the one machine.
      let started = performance.now();
      const shardSetups = await Promise.all(
        shardIds.map((i) => ptgOk(['setup', '--repo', upstream, '--no-python', '--shard', `${i}/${SHARDS}`, '--workspace', wsOf(i)], { cwd: root, log: ctx.log })),
      );
      const shardSetupMs = performance.now() - started;
      const oneSetup = await ptgOk(['setup', '--repo', upstream, '--no-python', '--workspace', wsAll], { cwd: root, log: ctx.log });
      ctx.log(
        `tiny repository; setup of ${STPS} slots: one process ${fmt.s(oneSetup.wallMs)}, ${SHARDS} shards at once ${fmt.s(shardSetupMs)} (each ${shardSetups.map((r) => fmt.s(r.wallMs)).join(', ')}); ` +
          `ideal run = 7 rounds × ${SLEEP_MS / 1000} s = ${fmt.s(IDEAL_MS)}; ${ctx.reps} rep(s), medians`,
      );

      const t = { one: [] as number[], shards: [] as number[], slowest: [] as number[], fastest: [] as number[] };
      const peaks = { one: [] as number[], shard: [] as number[] };
      const single = async (rep: number) => {
        const r = await ptgOk(['run', 'v1', '-j', String(JOBS), '--run-id', `single-${rep + 1}`, '--agent', FAKE_AGENT, '--workspace', wsAll], { cwd: root, log: ctx.log });
        t.one.push(r.wallMs);
        if (r.selfPeakKb) peaks.one.push(r.selfPeakKb);
      };
      // Every shard of one run has the same run id, as in CI; a new one per repetition.
      const sharded = async (rep: number) => {
        const begin = performance.now();
        const runs = await Promise.all(
          shardIds.map((i) =>
            ptgOk(['run', 'v1', '--shard', `${i}/${SHARDS}`, '--run-id', `bench-${rep + 1}`, '-j', String(JOBS_EACH), '--agent', FAKE_AGENT, '--workspace', wsOf(i)], {
              cwd: root,
              log: ctx.log,
            }),
          ),
        );
        t.shards.push(performance.now() - begin);
        const ran = runs.reduce((sum, r) => sum + Number(/(\d+)\/\d+ succeeded/.exec(r.stdout + r.stderr)?.[1] ?? 0), 0);
        if (ran !== STPS) throw new Error(`the ${SHARDS} shards reported ${ran} succeeded experiments, not ${STPS}:\n${runs.map((r) => r.stdout + r.stderr).join('\n')}`);
        t.slowest.push(Math.max(...runs.map((r) => r.wallMs)));
        t.fastest.push(Math.min(...runs.map((r) => r.wallMs)));
        for (const r of runs) if (r.selfPeakKb) peaks.shard.push(r.selfPeakKb);
      };
      for (let rep = 0; rep < ctx.reps; rep++) {
        for (const step of rep % 2 === 0 ? [single, sharded] : [sharded, single]) await step(rep);
      }

      const oneMs = median(t.one);
      const shardsMs = median(t.shards);
      const ratio = medianRatio(t.shards, t.one);
      const row = (what: string, ms: number[], peak?: number[]) => [
        what,
        fmt.s(median(ms)),
        fmt.x(median(ms) / IDEAL_MS),
        fmt.x(medianRatio(ms, t.one)),
        peak?.length ? fmt.mb(Math.max(...peak)) : '',
      ];
      for (const line of table(
        ['', 'wall', '× ideal', '× one', 'peak: own'],
        [
          row(`ideal: 7 rounds of ${SLEEP_MS / 1000} s`, t.one.map(() => IDEAL_MS)),
          row(`one process: ptg run v1 -j ${JOBS}`, t.one, peaks.one),
          row(`${SHARDS} processes at once: ptg run v1 --shard i/${SHARDS} -j ${JOBS_EACH} (first start to last exit)`, t.shards, peaks.shard),
          row('  the fastest shard', t.fastest),
          row('  the slowest shard', t.slowest),
        ],
      )) ctx.log(line);
      ctx.log(`× one: the median of each repetition's ratio. one-process walls ${t.one.map(fmt.s).join(', ')}; sharded walls ${t.shards.map(fmt.s).join(', ')}`);
      return [
        goal(`shards: ${SHARDS} shards at once vs one -j ${JOBS} (${STPS} × ${SLEEP_MS / 1000} s agents)`, `${fmt.s(shardsMs)} vs ${fmt.s(oneMs)} = ${fmt.x(ratio)}`, `≤ ${RATIO_GOAL.toFixed(2)}×`, ratio <= RATIO_GOAL),
      ];
    } finally {
      removeDir(dir);
    }
  },
};
