// Issue 3: agents that print a lot. Memory must stay flat whatever they print; throughput is
// compared with the same agents writing straight to files (the bash way, and the floor).
import path from 'node:path';
import fs from 'fs-extra';
import { bash, bashAgents, type Benchmark, experimentDirs, FAKE_AGENT, fileSizes, fmt, freeKb, goal, makeRoot, makeSmallRepo, ptgOk, removeDir, settle, table, tmpDir } from './support.js';

const STPS = 7;
const MB_EACH = 200;
const RSS_GOAL_MB = 150;

export const outputBench: Benchmark = {
  name: 'output',
  title: `output: ${STPS} agents each printing ${MB_EACH} MB of stream-json (issue 3)`,
  async run(ctx) {
    const dir = tmpDir();
    try {
      // claude.jsonl plus a transcript about as big, plus the baseline's files: keep twice that free.
      const needKb = STPS * MB_EACH * 1024 * 2 * 2;
      const free = freeKb(dir);
      ctx.log(`disk: ${fmt.mb(free)} free in ${path.dirname(dir)}, need ${fmt.mb(needKb)}`);
      if (free < needKb) {
        ctx.log('skipped: not enough free disk');
        return [{ name: 'output: peak memory', measured: '-', goal: `≤ ${RSS_GOAL_MB} MB`, verdict: 'SKIP' }];
      }
      const upstream = makeSmallRepo(dir);
      const root = makeRoot(dir, STPS, (id) => `# STP ${id}\nfake: spam ${MB_EACH}\n`);
      const ws = path.join(root, 'parallel');
      await ptgOk(['setup', '--repo', upstream, '--no-python'], { cwd: root });

      const out = path.join(dir, 'floor');
      const { script, env } = bashAgents({ ws, repoName: 'upstream', root, count: STPS, out });
      settle();
      const floor = await bash(script, { cwd: dir, env });
      const floorBytes = fileSizes(Array.from({ length: STPS }, (_, i) => path.join(out, `${i + 1}.jsonl`)));
      fs.removeSync(out);
      settle();

      const r = await ptgOk(['run', 'v1', '--agent', FAKE_AGENT], { cwd: root, timeoutMs: 900_000 });
      const expDirs = experimentDirs(ws, 'v1');
      const jsonl = fileSizes(expDirs.map((d) => path.join(d, 'claude.jsonl')));
      const log = fileSizes(expDirs.map((d) => path.join(d, 'claude.log')));
      // The slots hold GBs now: gone at once, before anything else runs.
      removeDir(dir);

      const floorRate = floorBytes / floor.wallMs;
      const ptgRate = jsonl / r.wallMs;
      for (const line of table(
        ['', 'wall', 'stream-json', 'throughput', '× floor', 'peak: own', 'peak: tree'],
        [
          [`floor: ${STPS} agents writing to files (bash &, wait)`, fmt.s(floor.wallMs), fmt.mb(floorBytes / 1024), fmt.rate(floorBytes, floor.wallMs), fmt.x(1), '', fmt.mb(floor.treePeakKb)],
          ['ptg run v1', fmt.s(r.wallMs), fmt.mb(jsonl / 1024), fmt.rate(jsonl, r.wallMs), fmt.x(ptgRate / floorRate), fmt.mb(r.selfPeakKb), fmt.mb(r.treePeakKb)],
        ],
      )) ctx.log(line);
      ctx.log(`ptg also wrote ${fmt.mb(log / 1024)} of claude.log; "own" = ptg's getrusage maxRSS, "tree" = /usr/bin/time %M (largest of the process and the children it waited for)`);
      const selfMb = (r.selfPeakKb ?? Infinity) / 1024;
      return [
        goal(`output: ptg peak memory, ${STPS} × ${MB_EACH} MB`, `${fmt.mb(r.selfPeakKb)} (tree ${fmt.mb(r.treePeakKb)})`, `≤ ${RSS_GOAL_MB} MB`, selfMb <= RSS_GOAL_MB),
        { name: 'output: throughput', measured: `${fmt.rate(jsonl, r.wallMs)} = ${fmt.x(ptgRate / floorRate)} of agents alone`, goal: '-', verdict: 'INFO' },
      ];
    } finally {
      removeDir(dir);
    }
  },
};
