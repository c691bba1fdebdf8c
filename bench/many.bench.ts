// Issue 3: many short experiments with a concurrency limit: what ptg costs per experiment shows.
import path from 'node:path';
import { bash, bashAgents, type Benchmark, FAKE_AGENT, fmt, goal, makeRoot, makeSmallRepo, median, medianRatio, ptgOk, removeDir, table, tmpDir } from './support.js';

const STPS = 100;
const JOBS = 16;
const SLEEP_MS = 200;
const IDEAL_MS = Math.ceil(STPS / JOBS) * SLEEP_MS;

export const manyBench: Benchmark = {
  name: 'many',
  title: `many: ${STPS} experiments, -j ${JOBS}, agents of ${SLEEP_MS / 1000} s (issue 3)`,
  async run(ctx) {
    const dir = tmpDir();
    try {
      const upstream = makeSmallRepo(dir);
      const root = makeRoot(dir, STPS);
      const ws = path.join(root, 'parallel');
      const setup = await ptgOk(['setup', '--repo', upstream, '--no-python'], { cwd: root });
      ctx.log(`tiny repository; ptg setup of ${STPS} slots ${fmt.s(setup.wallMs)}; ideal = ceil(${STPS}/${JOBS}) × ${SLEEP_MS / 1000} s = ${fmt.s(IDEAL_MS)}; ${ctx.reps} rep(s), medians`);
      const env = { FAKE_AGENT_SLEEP_MS: String(SLEEP_MS) };
      const t = { floor: [] as number[], ptg: [] as number[] };

      const floor = async (rep: number) => {
        const { script, env: vars } = bashAgents({ ws, repoName: 'upstream', root, count: STPS, out: path.join(dir, `floor-${rep}`), parallel: JOBS });
        t.floor.push((await bash(script, { cwd: dir, env: { ...env, ...vars } })).wallMs);
      };
      const ptgRun = async () => {
        t.ptg.push((await ptgOk(['run', 'v1', '-j', String(JOBS), '--agent', FAKE_AGENT], { cwd: root, env })).wallMs);
      };
      for (let rep = 0; rep < ctx.reps; rep++) {
        for (const step of rep % 2 === 0 ? [floor, ptgRun] : [ptgRun, floor]) await step(rep);
      }

      const floorMs = median(t.floor);
      const ptgMs = median(t.ptg);
      const row = (what: string, ms: number[]) => [what, fmt.s(median(ms)), fmt.x(median(ms) / IDEAL_MS), fmt.x(medianRatio(ms, t.floor))];
      for (const line of table(
        ['', 'wall', '× ideal', '× floor'],
        [
          row(`ideal: ceil(${STPS}/${JOBS}) rounds of ${SLEEP_MS / 1000} s`, t.floor.map(() => IDEAL_MS)),
          row(`floor: the same agents, xargs -P ${JOBS}, no ptg`, t.floor),
          row(`ptg run v1 -j ${JOBS}`, t.ptg),
        ],
      )) ctx.log(line);
      ctx.log(`ptg adds ${fmt.s(ptgMs - floorMs)} to the floor, ${((ptgMs - floorMs) / STPS).toFixed(0)} ms of wall per experiment; ptg walls ${t.ptg.map(fmt.s).join(', ')}; floor walls ${t.floor.map(fmt.s).join(', ')}`);
      return [
        // Issue 22: ptg's own cost, against the same agents started without it (the ideal is out of reach of the floor itself on 2 cores).
        goal(`many: ${STPS} experiments -j ${JOBS}, wall vs the floor`, `${fmt.x(medianRatio(t.ptg, t.floor))} (${fmt.s(ptgMs)}; floor ${fmt.s(floorMs)})`, '≤ 1.25×', medianRatio(t.ptg, t.floor) <= 1.25),
        goal(`many: ${STPS} experiments -j ${JOBS}, wall vs ideal`, `${fmt.s(ptgMs)} = ${fmt.x(ptgMs / IDEAL_MS)} (floor ${fmt.x(floorMs / IDEAL_MS)})`, '—', true),
      ];
    } finally {
      removeDir(dir);
    }
  },
};
