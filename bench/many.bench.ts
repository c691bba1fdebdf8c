// Issue 3: many short experiments with a concurrency limit: what ptg costs per experiment shows.
import os from 'node:os';
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
      const t = { floor: [] as number[], ptg: [] as number[], open: [] as number[] };
      // CPU of the whole machine during each step: on 2 cores the floor keeps both busy, so ptg's cost is CPU.
      const cpu = { floor: [] as number[], ptg: [] as number[], open: [] as number[] };
      const keep = (key: keyof typeof t, r: { wallMs: number; busyMs?: number }) => {
        t[key].push(r.wallMs);
        if (r.busyMs !== undefined) cpu[key].push(r.busyMs);
      };

      const floor = async (rep: number) => {
        const { script, env: vars } = bashAgents({ ws, repoName: 'upstream', root, count: STPS, out: path.join(dir, `floor-${rep}`), parallel: JOBS });
        keep('floor', await bash(script, { cwd: dir, env: { ...env, ...vars } }));
      };
      // --start-gap 0: the floor starts its agents at once; the gap (200 ms between the first wave's starts) is a choice, not overhead.
      const ptgRun = async () => keep('ptg', await ptgOk(['run', 'v1', '-j', String(JOBS), '--start-gap', '0', '--agent', FAKE_AGENT], { cwd: root, env }));
      // The same run with no sandbox: what bubblewrap's part of ptg's cost is.
      const unsandboxed = async () => keep('open', await ptgOk(['run', 'v1', '-j', String(JOBS), '--start-gap', '0', '--agent', FAKE_AGENT, '--sandbox', 'none'], { cwd: root, env }));
      for (let rep = 0; rep < ctx.reps; rep++) {
        for (const step of rep % 2 === 0 ? [floor, ptgRun, unsandboxed] : [unsandboxed, ptgRun, floor]) await step(rep);
      }

      const floorMs = median(t.floor);
      const ptgMs = median(t.ptg);
      const cpuOf = (key: keyof typeof cpu) => (cpu[key].length ? fmt.s(median(cpu[key])) : '?');
      const row = (what: string, ms: number[], key?: keyof typeof cpu) => [what, fmt.s(median(ms)), fmt.x(median(ms) / IDEAL_MS), fmt.x(medianRatio(ms, t.floor)), key ? cpuOf(key) : ''];
      for (const line of table(
        ['', 'wall', '× ideal', '× floor', 'CPU'],
        [
          row(`ideal: ceil(${STPS}/${JOBS}) rounds of ${SLEEP_MS / 1000} s`, t.floor.map(() => IDEAL_MS)),
          row(`floor: the same agents, xargs -P ${JOBS}, no ptg`, t.floor, 'floor'),
          row(`ptg run v1 -j ${JOBS} (each agent in bubblewrap)`, t.ptg, 'ptg'),
          row(`ptg run v1 -j ${JOBS} --sandbox none`, t.open, 'open'),
        ],
      )) ctx.log(line);
      ctx.log(`ptg adds ${fmt.s(ptgMs - floorMs)} to the floor, ${((ptgMs - floorMs) / STPS).toFixed(0)} ms of wall per experiment; ptg walls ${t.ptg.map(fmt.s).join(', ')}; floor walls ${t.floor.map(fmt.s).join(', ')}`);
      if (cpu.floor.length && cpu.ptg.length && cpu.open.length) {
        // The floor keeps both cores busy: every ms of CPU ptg adds is about half a ms of wall.
        const per = (ms: number) => `${(ms / STPS).toFixed(0)} ms`;
        const budget = (0.25 * median(t.floor) * os.availableParallelism()) / STPS;
        ctx.log(
          `CPU (the whole machine's, /proc/stat) per experiment over the floor: ${per(median(cpu.ptg) - median(cpu.floor))}, of which bubblewrap's ${per(median(cpu.ptg) - median(cpu.open))} ` +
            `and the rest of ptg's ${per(median(cpu.open) - median(cpu.floor))}; 1.25× of the floor leaves ${budget.toFixed(0)} ms of CPU per experiment on ${os.availableParallelism()} cores`,
        );
      }
      return [
        // Issue 22: ptg's own cost, against the same agents started without it (the ideal is out of reach of the floor itself on 2 cores).
        goal(`many: ${STPS} experiments -j ${JOBS}, wall vs the floor`, `${fmt.x(medianRatio(t.ptg, t.floor))} (${fmt.s(ptgMs)}; floor ${fmt.s(floorMs)})`, '≤ 1.25×', medianRatio(t.ptg, t.floor) <= 1.25),
        goal(`many: ${STPS} experiments -j ${JOBS}, --sandbox none vs the floor`, `${fmt.x(medianRatio(t.open, t.floor))} (${fmt.s(median(t.open))})`, '—', true),
        goal(`many: ${STPS} experiments -j ${JOBS}, wall vs ideal`, `${fmt.s(ptgMs)} = ${fmt.x(ptgMs / IDEAL_MS)} (floor ${fmt.x(floorMs / IDEAL_MS)})`, '—', true),
      ];
    } finally {
      removeDir(dir);
    }
  },
};
