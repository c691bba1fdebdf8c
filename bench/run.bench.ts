// Issue 3: what ptg adds around agents that each take 2 s, beside the bash way (background
// agents 0.5 s apart, then `wait`) and the floor (the same agents all at once, nothing around them).
import path from 'node:path';
import fs from 'fs-extra';
import { bash, bashAgents, type Benchmark, experimentDirs, FAKE_AGENT, fmt, goal, makeRoot, makeSmallRepo, median, medianRatio, ptgOk, removeDir, runIdOf, table, tmpDir } from './support.js';

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
      // Real agents leave files: the same agents writing a change to README.md and a new file, in a
      // workspace of their own, take the path every real experiment takes (a dirty slot's reset, a
      // record with changes), against their own floor.
      const wroot = makeRoot(path.join(dir, 'writing'), STPS, (id) => `# STP ${id}\nfake: write README.md ${JSON.stringify(`# target, edited for STP ${id}\n`)}\nfake: write notes/stp-${id}.md ${JSON.stringify(`notes of STP ${id}\n`)}\n`);
      await ptgOk(['setup', '--repo', upstream, '--no-python'], { cwd: wroot });
      const t = { floor: [] as number[], bash: [] as number[], ptg: [] as number[], open: [] as number[], wfloor: [] as number[], wptg: [] as number[] };
      // CPU of the whole machine during each step (/proc/stat): what the cores were busy with.
      const cpu = { floor: [] as number[], bash: [] as number[], ptg: [] as number[], open: [] as number[], wfloor: [] as number[], wptg: [] as number[] };
      const keep = (key: keyof typeof t, r: { wallMs: number; busyMs?: number }) => {
        t[key].push(r.wallMs);
        if (r.busyMs !== undefined) cpu[key].push(r.busyMs);
      };
      const peaks: number[] = [];

      const agents = (key: 'floor' | 'bash' | 'wfloor', stagger: number) => async (rep: number) => {
        const at = key === 'wfloor' ? wroot : root;
        const { script, env: vars } = bashAgents({ ws: path.join(at, 'parallel'), repoName: 'upstream', root: at, count: STPS, out: path.join(dir, `${key}-${rep}`), stagger });
        keep(key, await bash(script, { cwd: dir, env: { ...env, ...vars } }));
      };
      // Where ptg's part of the wall lies: before its first agent starts, and after its last one ends.
      const before: number[] = [];
      const after: number[] = [];
      const ptgRun = async () => {
        const r = await ptgOk(['run', 'v1', '--start-gap', '0', '--agent', FAKE_AGENT, '--sandbox', 'bwrap'], { cwd: root, env });
        const endedAt = Date.now();
        keep('ptg', r);
        const statuses = experimentDirs(ws, 'v1', runIdOf(r.stdout)).map((d) => fs.readJsonSync(path.join(d, 'status.json')) as { startedAt: string; finishedAt: string });
        before.push(Math.min(...statuses.map((x) => Date.parse(x.startedAt))) - (endedAt - r.wallMs));
        after.push(endedAt - Math.max(...statuses.map((x) => Date.parse(x.finishedAt))));
        if (r.selfPeakKb) peaks.push(r.selfPeakKb);
      };
      // The same run with no sandbox: what bubblewrap costs (issue 19).
      const unsandboxed = async () => {
        keep('open', await ptgOk(['run', 'v1', '--start-gap', '0', '--agent', FAKE_AGENT, '--sandbox', 'none'], { cwd: root, env }));
      };
      const writing = async () => keep('wptg', await ptgOk(['run', 'v1', '--start-gap', '0', '--agent', FAKE_AGENT, '--sandbox', 'bwrap'], { cwd: wroot, env }));
      for (let rep = 0; rep < ctx.reps; rep++) {
        const order =
          rep % 2 === 0
            ? [agents('floor', 0), agents('bash', 0.5), ptgRun, unsandboxed, agents('wfloor', 0), writing]
            : [writing, agents('wfloor', 0), unsandboxed, ptgRun, agents('bash', 0.5), agents('floor', 0)];
        for (const step of order) await step(rep);
      }

      const floor = median(t.floor);
      const ptg = median(t.ptg);
      const row = (what: string, ms: number[], key?: keyof typeof cpu, base = t.floor) => [what, fmt.s(median(ms)), fmt.x(median(ms) / SLEEP_MS), fmt.x(medianRatio(ms, base)), key && cpu[key].length ? fmt.s(median(cpu[key])) : ''];
      for (const line of table(
        ['', 'wall', '× ideal', '× floor', 'CPU'],
        [
          row('ideal: one agent\'s sleep', t.floor.map(() => SLEEP_MS)),
          row(`floor: ${STPS} agents at once, no ptg (bash &, wait)`, t.floor, 'floor'),
          row(`bash way: ${STPS} agents 0.5 s apart, wait`, t.bash, 'bash'),
          row(`ptg run v1 (all ${STPS} at once, each in bubblewrap)`, t.ptg, 'ptg'),
          row(`ptg run v1 --sandbox none`, t.open, 'open'),
          row(`floor, agents writing 2 files (× their floor)`, t.wfloor, 'wfloor', t.wfloor),
          row(`ptg run v1, agents writing 2 files (× their floor)`, t.wptg, 'wptg', t.wfloor),
        ],
      )) ctx.log(line);
      ctx.log(`ptg's first agent started ${fmt.s(median(before))} after ptg did; ptg returned ${fmt.s(median(after))} after its last agent ended (medians)`);
      ctx.log(`× floor: the median of each repetition's ratio. ptg walls ${t.ptg.map(fmt.s).join(', ')}; floor walls ${t.floor.map(fmt.s).join(', ')}; ptg's own peak memory ${fmt.mb(Math.max(...peaks))}`);
      const vsFloor = medianRatio(t.ptg, t.floor);
      const sandboxCost = medianRatio(t.ptg, t.open);
      return [
        goal(`run: ${STPS} × ${SLEEP_MS / 1000} s agents, wall vs the floor`, `${fmt.x(vsFloor)} (${fmt.s(ptg)}; floor ${fmt.s(floor)})`, '≤ 1.10×', vsFloor <= 1.1),
        goal(`run: ${STPS} × ${SLEEP_MS / 1000} s agents, bubblewrap vs --sandbox none`, `${fmt.x(sandboxCost)} (${fmt.s(ptg)}; none ${fmt.s(median(t.open))})`, '≤ 1.03×', sandboxCost <= 1.03),
        goal(`run: ${STPS} × ${SLEEP_MS / 1000} s agents writing 2 files, vs their floor`, `${fmt.x(medianRatio(t.wptg, t.wfloor))} (${fmt.s(median(t.wptg))}; floor ${fmt.s(median(t.wfloor))})`, '—', true),
        goal(`run: ${STPS} × ${SLEEP_MS / 1000} s agents, wall vs ideal`, `${fmt.x(ptg / SLEEP_MS)} (floor ${fmt.x(floor / SLEEP_MS)})`, '—', true),
      ];
    } finally {
      removeDir(dir);
    }
  },
};
