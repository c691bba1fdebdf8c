// Issue 6: the merge job of a sharded run. 100 STPs × --repeat 4 in 4 shards (4 workspaces, as 4
// machines) make 400 experiment folders; each shard is packed (`ptg pack`, what a CI job
// uploads), then `ptg collect --from` merges the packs, and the workspaces themselves, beside the
// bash way (untar every pack into one folder; cp -r every experiment folder).
import path from 'node:path';
import fs from 'fs-extra';
import { bash, type Benchmark, duKb, experimentDirs, FAKE_AGENT, fileSizes, fmt, goal, type Goal, makeRoot, makeSmallRepo, median, medianRatio, ptg, ptgOk, removeDir, settle, table, tmpDir } from './support.js';

const STPS = 100;
const REPEAT = 4;
const SHARDS = 4;
const EXPERIMENTS = STPS * REPEAT;
const RUN_ID = 'bench';
const TIME_GOAL_MS = 5000;

/** True when this ptg build has `pack` and `collect --from`. */
async function hasMerge(cwd: string): Promise<boolean> {
  const [pack, collect] = await Promise.all([ptg(['pack', '--help'], { cwd, timeoutMs: 30_000 }), ptg(['collect', '--help'], { cwd, timeoutMs: 30_000 })]);
  return pack.code === 0 && /Usage: ptg pack/.test(pack.stdout) && collect.code === 0 && /--from\b/.test(collect.stdout);
}

export const mergeBench: Benchmark = {
  name: 'merge',
  title: `merge: ptg collect --from, ${EXPERIMENTS} experiment folders of ${SHARDS} shards (${STPS} STPs × --repeat ${REPEAT}) (issue 6)`,
  async run(ctx) {
    const names = { packs: `merge: ${EXPERIMENTS} folders from ${SHARDS} packs, wall`, ws: `merge: ${EXPERIMENTS} folders from ${SHARDS} workspaces, wall` };
    const dir = tmpDir();
    try {
      if (!(await hasMerge(dir))) {
        ctx.log('skipped: ptg has no pack or collect --from');
        return [
          { name: names.packs, measured: '-', goal: `< ${TIME_GOAL_MS / 1000} s`, verdict: 'SKIP' },
          { name: names.ws, measured: '-', goal: `< ${TIME_GOAL_MS / 1000} s`, verdict: 'SKIP' },
        ];
      }
      const upstream = makeSmallRepo(dir);
      // No sleep: the agents only have to leave experiment folders behind, each with a changed file
      // (changes.patch, files/). Not a .py file: pyright on 400 experiments would take minutes here.
      const root = makeRoot(dir, STPS, (id) => `# STP ${id}\nfake: write tests/generated/test_stp_${id}.txt "generated for STP ${id}\\n"\n`);
      const shardIds = Array.from({ length: SHARDS }, (_, i) => i + 1);
      const wsOf = (i: number) => path.join(dir, `ws${i}`);
      const packs = path.join(dir, 'packs');

      let started = performance.now();
      await Promise.all(shardIds.map((i) => ptgOk(['setup', '--repo', upstream, '--no-python', '--shard', `${i}/${SHARDS}`, '--workspace', wsOf(i)], { cwd: root, log: ctx.log })));
      const setupMs = performance.now() - started;
      started = performance.now();
      await Promise.all(
        shardIds.map((i) =>
          ptgOk(['run', 'v1', '--shard', `${i}/${SHARDS}`, '--run-id', RUN_ID, '--repeat', String(REPEAT), '-j', '4', '--agent', FAKE_AGENT, '--workspace', wsOf(i)], {
            cwd: root,
            log: ctx.log,
            timeoutMs: 900_000,
          }),
        ),
      );
      const runMs = performance.now() - started;
      const packWalls: number[] = [];
      for (const i of shardIds) packWalls.push((await ptgOk(['pack', 'v1', RUN_ID, '--out', packs, '--workspace', wsOf(i)], { cwd: root, log: ctx.log })).wallMs);
      const packFiles = fs.readdirSync(packs).filter((n) => n.endsWith('.tar.gz')).map((n) => path.join(packs, n));
      if (packFiles.length !== SHARDS) throw new Error(`ptg pack wrote ${packFiles.length} archives in ${packs}, not ${SHARDS}: ${fs.readdirSync(packs).join(', ')}`);
      const expDirs = shardIds.flatMap((i) => experimentDirs(wsOf(i), 'v1', RUN_ID));
      if (expDirs.length !== EXPERIMENTS) throw new Error(`the shards left ${expDirs.length} experiment folders, not ${EXPERIMENTS}`);
      settle();
      ctx.log(
        `setup of ${SHARDS} × ${STPS / SHARDS} slots at once ${fmt.s(setupMs)}; ${SHARDS} shards × ${(STPS / SHARDS) * REPEAT} experiments at once ${fmt.s(runMs)}; ` +
          `ptg pack ${packWalls.map(fmt.s).join(', ')}; packs ${fmt.mb(fileSizes(packFiles) / 1024)} in all; ${EXPERIMENTS} experiment folders ${fmt.mb(duKb(...expDirs))}; ${ctx.reps} rep(s), medians`,
      );

      // Every step writes a new folder, all removed at the end: on ext4 without a journal (this
      // machine's /) each new inode skips the inodes freed in the last minutes, so removing one
      // step's 5,000 files would slow the next step's creations down.
      let outs = 0;
      const freshOut = () => {
        settle();
        return path.join(dir, `merged-${++outs}`);
      };
      const t = { untar: [] as number[], packs: [] as number[], cp: [] as number[], ws: [] as number[] };
      const peaks = { self: [] as number[], tree: [] as number[] };
      const untar = async () => {
        const out = freshOut();
        t.untar.push((await bash(`mkdir -p '${out}'\nfor p in '${packs}'/*.tar.gz; do tar -xzf "$p" -C '${out}'; done`, { cwd: dir })).wallMs);
      };
      const cp = async () => {
        const out = freshOut();
        const script = [`mkdir -p '${out}'`, ...expDirs.map((d) => `cp -r '${d}' '${out}/${path.basename(path.dirname(d))}_${path.basename(d)}'`)].join('\n');
        t.cp.push((await bash(script, { cwd: dir })).wallMs);
      };
      const collect = (key: 'packs' | 'ws', from: string[]) => async () => {
        const out = freshOut();
        const r = await ptgOk(['collect', 'v1', RUN_ID, '--from', ...from, '--out', out], { cwd: root, log: ctx.log });
        t[key].push(r.wallMs);
        if (r.selfPeakKb) peaks.self.push(r.selfPeakKb);
        if (r.treePeakKb) peaks.tree.push(r.treePeakKb);
        // The report must be whole, or the time means nothing.
        const results = path.join(out, `results_v1_${RUN_ID}`);
        const copies = fs.existsSync(results) ? fs.readdirSync(results).filter((n) => n.startsWith('stp_')).length : 0;
        const totals = fs.existsSync(path.join(results, 'summary.json')) ? (fs.readJsonSync(path.join(results, 'summary.json')) as { totals?: { experiments?: number; succeeded?: number } }).totals : undefined;
        if (copies !== EXPERIMENTS || totals?.experiments !== EXPERIMENTS || totals.succeeded !== EXPERIMENTS) {
          throw new Error(`ptg collect --from ${key} wrote ${copies} stp_ folders and totals ${JSON.stringify(totals)} in ${results}, not ${EXPERIMENTS}`);
        }
      };
      const fromPacks = collect('packs', packFiles);
      const fromWs = collect('ws', shardIds.map(wsOf));
      for (let rep = 0; rep < ctx.reps; rep++) {
        for (const step of rep % 2 === 0 ? [untar, fromPacks, cp, fromWs] : [fromWs, cp, fromPacks, untar]) await step();
      }

      const packsMs = median(t.packs);
      const wsMs = median(t.ws);
      const self = peaks.self.length ? Math.max(...peaks.self) : undefined;
      const tree = peaks.tree.length ? Math.max(...peaks.tree) : undefined;
      for (const line of table(
        ['', 'wall', '× bash', 'per folder'],
        [
          [`bash way: tar -xzf each of the ${SHARDS} packs into one folder`, fmt.s(median(t.untar)), fmt.x(1), `${(median(t.untar) / EXPERIMENTS).toFixed(1)} ms`],
          [`ptg collect v1 ${RUN_ID} --from packs/*.tar.gz`, fmt.s(packsMs), fmt.x(medianRatio(t.packs, t.untar)), `${(packsMs / EXPERIMENTS).toFixed(1)} ms`],
          [`bash way: cp -r each of the ${EXPERIMENTS} experiment folders`, fmt.s(median(t.cp)), fmt.x(1), `${(median(t.cp) / EXPERIMENTS).toFixed(1)} ms`],
          [`ptg collect v1 ${RUN_ID} --from ws1 … ws${SHARDS}`, fmt.s(wsMs), fmt.x(medianRatio(t.ws, t.cp)), `${(wsMs / EXPERIMENTS).toFixed(1)} ms`],
        ],
      )) ctx.log(line);
      ctx.log(`ptg collect --from: packs walls ${t.packs.map(fmt.s).join(', ')}; workspaces walls ${t.ws.map(fmt.s).join(', ')}; ptg's own peak ${fmt.mb(self)}, with the children it waited for (tar) ${fmt.mb(tree)}`);
      const memory: Goal = { name: `merge: ptg collect --from, ptg's own peak memory`, measured: fmt.mb(self), goal: '- (collect: < 150 MB)', verdict: 'INFO' };
      return [
        goal(names.packs, `${fmt.s(packsMs)} = ${fmt.x(medianRatio(t.packs, t.untar))} of tar -xzf`, `< ${TIME_GOAL_MS / 1000} s`, packsMs < TIME_GOAL_MS),
        goal(names.ws, `${fmt.s(wsMs)} = ${fmt.x(medianRatio(t.ws, t.cp))} of cp -r`, `< ${TIME_GOAL_MS / 1000} s`, wsMs < TIME_GOAL_MS),
        memory,
      ];
    } finally {
      removeDir(dir);
    }
  },
};
