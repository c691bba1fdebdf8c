// Issue 4: `ptg collect` on a run whose logs are big, beside the bash way (collect_results.sh:
// tail and grep each log, copy each experiment folder).
import path from 'node:path';
import fs from 'fs-extra';
import { bash, type Benchmark, duKb, FAKE_AGENT, fmt, freeKb, goal, hasCollect, makeRoot, makeSmallRepo, median, medianRatio, ptg, ptgOk, removeDir, runIdOf, table, tmpDir } from './support.js';

const STPS = 7;
const MB_EACH = 50;
const TIME_GOAL_MS = 3000;
const RSS_GOAL_MB = 150;

export const collectBench: Benchmark = {
  name: 'collect',
  title: `collect: ptg collect after ${STPS} experiments with ~${MB_EACH} MB logs (issue 4)`,
  async run(ctx) {
    const skipped = (why: string) => {
      ctx.log(`skipped: ${why}`);
      return [
        { name: 'collect: wall time', measured: '-', goal: `< ${TIME_GOAL_MS / 1000} s`, verdict: 'SKIP' as const },
        { name: 'collect: peak memory', measured: '-', goal: `< ${RSS_GOAL_MB} MB`, verdict: 'SKIP' as const },
      ];
    };
    const dir = tmpDir();
    try {
      if (!(await hasCollect(dir))) return skipped('ptg collect not available');
      // jsonl + log per experiment, the copies collect makes, the baseline's copies.
      const needKb = STPS * MB_EACH * 1024 * 2 * 3;
      if (freeKb(dir) < needKb) return skipped(`not enough free disk (need ${fmt.mb(needKb)})`);
      const upstream = makeSmallRepo(dir);
      const root = makeRoot(dir, STPS, (id) => `# STP ${id}\nfake: spam ${MB_EACH}\nfake: write tests/generated/test_stp_${id}.py "def test_${id}():\\n    assert True\\n"\n`);
      const ws = path.join(root, 'parallel');
      await ptgOk(['setup', '--repo', upstream, '--no-python'], { cwd: root });
      const run = await ptgOk(['run', 'v1', '--agent', FAKE_AGENT], { cwd: root, timeoutMs: 900_000 });
      const runId = runIdOf(run.stdout);
      const expDirs = Array.from({ length: STPS }, (_, i) => path.join(ws, 'experiments', `v1_experiment_${runId}`, `${i + 1}-upstream`));
      const logBytes = expDirs.reduce((sum, d) => sum + fs.statSync(path.join(d, 'claude.log')).size, 0);
      ctx.log(`run ${runId}: ${STPS} experiments, claude.log ${fmt.mb(logBytes / 1024 / STPS)} each; ${ctx.reps} rep(s), medians`);

      const t = { bash: [] as number[], ptg: [] as number[] };
      const peaks = { self: [] as number[], tree: [] as number[] };
      const script = [
        `out='${path.join(dir, 'bash-results')}'`,
        'rm -rf "$out" && mkdir -p "$out"',
        ...expDirs.map((d, i) => `tail -n 50 '${d}/claude.log' > "$out/${i + 1}.tail"; grep -c 'error:' '${d}/claude.log' > "$out/${i + 1}.errors" || true; cp -r '${d}' "$out/stp_${i + 1}"`),
      ].join('\n');
      const bashWay = async () => {
        t.bash.push((await bash(script, { cwd: dir })).wallMs);
        fs.removeSync(path.join(dir, 'bash-results'));
      };
      const ptgCollect = async () => {
        for (const name of fs.readdirSync(ws).filter((n) => n.startsWith('results_'))) fs.removeSync(path.join(ws, name));
        const r = await ptg(['collect', 'v1', runId], { cwd: root });
        if (r.code !== 0) throw new Error(`ptg collect exited with ${r.code ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
        t.ptg.push(r.wallMs);
        if (r.selfPeakKb) peaks.self.push(r.selfPeakKb);
        if (r.treePeakKb) peaks.tree.push(r.treePeakKb);
      };
      for (let rep = 0; rep < ctx.reps; rep++) {
        for (const step of rep % 2 === 0 ? [bashWay, ptgCollect] : [ptgCollect, bashWay]) await step();
      }

      // The report must be whole, or the time means nothing.
      const results = path.join(ws, `results_v1_${runId}`);
      const copies = fs.existsSync(results) ? fs.readdirSync(results).filter((n) => n.startsWith('stp_')).length : 0;
      if (copies !== STPS || !fs.existsSync(path.join(results, 'summary.json'))) throw new Error(`ptg collect wrote ${copies} stp_ folders in ${results}, not ${STPS}`);
      ctx.log(`results_v1_${runId}: ${fs.readdirSync(results).length} entries, ${fmt.mb(duKb(results))}`);
      const bashMs = median(t.bash);
      const ptgMs = median(t.ptg);
      const self = peaks.self.length ? Math.max(...peaks.self) : undefined;
      for (const line of table(
        ['', 'wall', '× bash', 'peak: own', 'peak: tree'],
        [
          ['bash way: tail -n 50, grep -c error:, cp -r per experiment', fmt.s(bashMs), fmt.x(1), '', ''],
          [`ptg collect v1 ${runId}`, fmt.s(ptgMs), fmt.x(medianRatio(t.ptg, t.bash)), fmt.mb(self), fmt.mb(peaks.tree.length ? Math.max(...peaks.tree) : undefined)],
        ],
      )) ctx.log(line);
      ctx.log(`ptg collect walls ${t.ptg.map(fmt.s).join(', ')}`);
      return [
        goal('collect: wall time', `${fmt.s(ptgMs)} = ${fmt.x(medianRatio(t.ptg, t.bash))} of bash`, `< ${TIME_GOAL_MS / 1000} s`, ptgMs < TIME_GOAL_MS),
        goal('collect: ptg peak memory', fmt.mb(self), `< ${RSS_GOAL_MB} MB`, self !== undefined && self / 1024 < RSS_GOAL_MB),
      ];
    } finally {
      removeDir(dir);
    }
  },
};
