// Issue 3: what ptg adds around agents that each take 2 s, beside the bash way (background
// agents 0.5 s apart, then `wait`) and the floor (the same agents all at once, nothing around them).
import path from 'node:path';
import { bash, bashAgents, type Benchmark, FAKE_AGENT, fmt, goal, makeRoot, makeSmallRepo, median, medianRatio, ptgOk, removeDir, table, tmpDir } from './support.js';

const STPS = 7;
const SLEEP_MS = 2000;

export const runBench: Benchmark = {
  name: 'run',
  title: `run: overhead of ptg run, ${STPS} experiments, agents sleeping ${SLEEP_MS / 1000} s (issue 3)`,
  async run(ctx) {
    const dir = tmpDir();
    try {
      const upstream = makeSmallRepo(dir);
      const root = makeRoot(dir, STPS);
      const ws = path.join(root, 'parallel');
      const setup = await ptgOk(['setup', '--repo', upstream, '--no-python'], { cwd: root });
      ctx.log(`tiny repository (5 files): the figures are ptg's own cost, not git's on a big tree. setup ${fmt.s(setup.wallMs)}; ${ctx.reps} rep(s), medians`);
      const env = { FAKE_AGENT_SLEEP_MS: String(SLEEP_MS) };
      const t = { floor: [] as number[], bash: [] as number[], ptg: [] as number[], open: [] as number[] };
      const peaks: number[] = [];

      const agents = (key: 'floor' | 'bash', stagger: number) => async (rep: number) => {
        const { script, env: vars } = bashAgents({ ws, repoName: 'upstream', root, count: STPS, out: path.join(dir, `${key}-${rep}`), stagger });
        t[key].push((await bash(script, { cwd: dir, env: { ...env, ...vars } })).wallMs);
      };
      const ptgRun = async () => {
        const r = await ptgOk(['run', 'v1', '--agent', FAKE_AGENT, '--sandbox', 'bwrap'], { cwd: root, env });
        t.ptg.push(r.wallMs);
        if (r.selfPeakKb) peaks.push(r.selfPeakKb);
      };
      // The same run with no sandbox: what bubblewrap costs (issue 19).
      const unsandboxed = async () => {
        t.open.push((await ptgOk(['run', 'v1', '--agent', FAKE_AGENT, '--sandbox', 'none'], { cwd: root, env })).wallMs);
      };
      for (let rep = 0; rep < ctx.reps; rep++) {
        const order = rep % 2 === 0 ? [agents('floor', 0), agents('bash', 0.5), ptgRun, unsandboxed] : [unsandboxed, ptgRun, agents('bash', 0.5), agents('floor', 0)];
        for (const step of order) await step(rep);
      }

      const floor = median(t.floor);
      const ptg = median(t.ptg);
      const row = (what: string, ms: number[]) => [what, fmt.s(median(ms)), fmt.x(median(ms) / SLEEP_MS), fmt.x(medianRatio(ms, t.floor))];
      for (const line of table(
        ['', 'wall', '× ideal', '× floor'],
        [
          row('ideal: one agent\'s sleep', t.floor.map(() => SLEEP_MS)),
          row(`floor: ${STPS} agents at once, no ptg (bash &, wait)`, t.floor),
          row(`bash way: ${STPS} agents 0.5 s apart, wait`, t.bash),
          row(`ptg run v1 (all ${STPS} at once, each in bubblewrap)`, t.ptg),
          row(`ptg run v1 --sandbox none`, t.open),
        ],
      )) ctx.log(line);
      ctx.log(`× floor: the median of each repetition's ratio. ptg walls ${t.ptg.map(fmt.s).join(', ')}; floor walls ${t.floor.map(fmt.s).join(', ')}; ptg's own peak memory ${fmt.mb(Math.max(...peaks))}`);
      const vsFloor = medianRatio(t.ptg, t.floor);
      const sandboxCost = medianRatio(t.ptg, t.open);
      return [
        goal(`run: ${STPS} × ${SLEEP_MS / 1000} s agents, wall vs the floor`, `${fmt.x(vsFloor)} (${fmt.s(ptg)}; floor ${fmt.s(floor)})`, '≤ 1.10×', vsFloor <= 1.1),
        goal(`run: ${STPS} × ${SLEEP_MS / 1000} s agents, bubblewrap vs --sandbox none`, `${fmt.x(sandboxCost)} (${fmt.s(ptg)}; none ${fmt.s(median(t.open))})`, '≤ 1.03×', sandboxCost <= 1.03),
        goal(`run: ${STPS} × ${SLEEP_MS / 1000} s agents, wall vs ideal`, `${fmt.x(ptg / SLEEP_MS)} (floor ${fmt.x(floor / SLEEP_MS)})`, '—', true),
      ];
    } finally {
      removeDir(dir);
    }
  },
};
