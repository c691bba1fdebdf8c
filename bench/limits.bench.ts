// Issue 32: a model API that serves 2 agents at once, and 6 asked for. Fixed concurrency (the
// scripts' xargs -P 6, each refused agent tried again a second later, as --retries did) keeps
// starting agents that are refused; ptg halves its concurrency on the first refusals.
import fs from 'node:fs';
import path from 'node:path';
import { AGENT_ARGS, bash, type Benchmark, FAKE_AGENT, fmt, goal, makeRoot, makeSmallRepo, median, ptgOk, removeDir, table, tmpDir } from './support.js';

const STPS = 12;
const JOBS = 6;
const SERVED = 2;
const SLEEP_MS = 1000;
const IDEAL_MS = (STPS / SERVED) * SLEEP_MS;

/** Lines of the fake API's log: each a start it served or refused. */
function count(dir: string, name: string): number {
  const file = path.join(dir, name);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;
}

/** Fixed concurrency: at most `JOBS` agents, each one refused tried again after a second until served. */
function fixedScript(): string {
  const one = `one() { cd "$WS/$1-upstream" || return 1; while :; do printf 'Write tests.\\nSTP File: %s\\n' "$ROOT/stps/$1.md" | "$AGENT" $AGENT_ARGS > "$OUT/$1.jsonl" 2>&1 && return 0; sleep 1; done; }`;
  return `set -e\nmkdir -p "$OUT"\n${one}\nexport -f one\nseq 1 ${STPS} | xargs -P ${JOBS} -I{} bash -c 'one {}'\n`;
}

export const limitsBench: Benchmark = {
  name: 'limits',
  title: `limits: ${STPS} experiments of ${SLEEP_MS / 1000} s asking for ${JOBS} at once, an API serving ${SERVED} (issue 32)`,
  async run(ctx) {
    const dir = tmpDir();
    try {
      const upstream = makeSmallRepo(dir);
      const root = makeRoot(dir, STPS, (id) => `# STP ${id}\nfake: capacity ${SERVED}\nfake: sleep ${SLEEP_MS}\n`);
      const ws = path.join(root, 'parallel');
      await ptgOk(['setup', '--repo', upstream, '--no-python'], { cwd: root });
      ctx.log(`ideal = ${STPS}/${SERVED} × ${SLEEP_MS / 1000} s = ${fmt.s(IDEAL_MS)}; ${ctx.reps} rep(s), medians; a refused start is one the API turned away`);
      const t = { fixed: [] as number[], ptg: [] as number[] };
      const refused = { fixed: [] as number[], ptg: [] as number[] };
      for (let rep = 0; rep < ctx.reps; rep++) {
        const api = (name: string) => {
          const at = path.join(dir, `api-${name}-${rep}`);
          fs.mkdirSync(at);
          return at;
        };
        const fixedApi = api('fixed');
        const env = { WS: ws, ROOT: root, OUT: path.join(dir, `fixed-${rep}`), AGENT: FAKE_AGENT, AGENT_ARGS: AGENT_ARGS.join(' '), FAKE_AGENT_CAPACITY_DIR: fixedApi };
        t.fixed.push((await bash(fixedScript(), { cwd: dir, env })).wallMs);
        refused.fixed.push(count(fixedApi, 'refused.log'));
        const ptgApi = api('ptg');
        const r = await ptgOk(['run', 'v1', '-j', String(JOBS), '--agent', FAKE_AGENT, '--sandbox-rw', ptgApi], { cwd: root, env: { FAKE_AGENT_CAPACITY_DIR: ptgApi } });
        t.ptg.push(r.wallMs);
        refused.ptg.push(count(ptgApi, 'refused.log'));
        if (count(ptgApi, 'served.log') !== STPS) throw new Error(`ptg's run served ${count(ptgApi, 'served.log')} of ${STPS}`);
      }
      for (const line of table(
        ['', 'refused starts', 'wall', '× ideal'],
        [
          [`fixed: xargs -P ${JOBS}, a refused agent again 1 s later`, String(median(refused.fixed)), fmt.s(median(t.fixed)), fmt.x(median(t.fixed) / IDEAL_MS)],
          [`ptg run v1 -j ${JOBS} (adaptive)`, String(median(refused.ptg)), fmt.s(median(t.ptg)), fmt.x(median(t.ptg) / IDEAL_MS)],
        ],
      )) ctx.log(line);
      ctx.log(`refused starts, each repetition: fixed ${refused.fixed.join(', ')}; ptg ${refused.ptg.join(', ')}`);
      return [
        goal(`limits: refused starts, ptg -j ${JOBS} vs fixed concurrency`, `${median(refused.ptg)} vs ${median(refused.fixed)}`, 'fewer', median(refused.ptg) < median(refused.fixed)),
        goal(`limits: wall, ptg vs fixed concurrency`, `${fmt.s(median(t.ptg))} vs ${fmt.s(median(t.fixed))}`, '—', true),
      ];
    } finally {
      removeDir(dir);
    }
  },
};
