// `npm run bench [-- --only setup,run] [--reps N]`: runs ptg's benchmarks in order against the
// built binary, each beside a baseline measured in the same run (the machine is noisy: ratios
// mean more than seconds), then prints one summary line per goal.
import { checksBench } from './checks.bench.js';
import { collectBench } from './collect.bench.js';
import { limitsBench } from './limits.bench.js';
import { manyBench } from './many.bench.js';
import { mergeBench } from './merge.bench.js';
import { outputBench } from './output.bench.js';
import { runBench } from './run.bench.js';
import { setupBench } from './setup.bench.js';
import { shardsBench } from './shards.bench.js';
import { slotOptionsBench } from './slot-options.bench.js';
import { slurmBench } from './slurm.bench.js';
import { startupBench } from './startup.bench.js';
import { type Benchmark, cleanUp, type Goal, ptgWarnings, table, TIME_BIN } from './support.js';

const BENCHMARKS: Benchmark[] = [startupBench, setupBench, slotOptionsBench, runBench, outputBench, manyBench, limitsBench, collectBench, checksBench, shardsBench, mergeBench, slurmBench];

const USAGE = `Usage: npm run bench -- [--only NAMES] [--reps N]
  --only NAMES   comma separated, in any order: ${BENCHMARKS.map((b) => b.name).join(',')}
  --reps N       repetitions of each timed step of setup, run, many, shards and merge (default 3); medians are reported`;

function parseArgs(argv: string[]): { only?: string[]; reps: number } {
  let only: string[] | undefined;
  let reps = 3;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '--only') only = (value() ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    else if (flag === '--reps') reps = Number(value());
    else if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else {
      console.error(`bench: unknown argument ${argv[i]}\n${USAGE}`);
      process.exit(2);
    }
  }
  const unknown = only?.filter((n) => !BENCHMARKS.some((b) => b.name === n)) ?? [];
  if (unknown.length > 0 || !Number.isInteger(reps) || reps < 1) {
    console.error(`bench: ${unknown.length ? `no benchmark ${unknown.join(', ')}` : '--reps needs a whole number ≥ 1'}\n${USAGE}`);
    process.exit(2);
  }
  return { only, reps };
}

async function main(): Promise<number> {
  const { only, reps } = parseArgs(process.argv.slice(2));
  const selected = BENCHMARKS.filter((b) => !only || only.includes(b.name));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      console.error(`\nbench: ${signal}: ending the processes it started and removing its temporary folders`);
      cleanUp();
      process.exit(130);
    });
  }
  const log = (line = '') => console.log(line);
  log(
    `ptg bench · node ${process.version} · ${(await import('node:os')).availableParallelism()} cores · peak memory: ${
      TIME_BIN ? '/usr/bin/time -f %M (ptg and the children it waited for)' : '/usr/bin/time not found'
    } and ptg's own getrusage maxRSS (bench/rss-hook.mjs, preloaded with --import)`,
  );
  const goals: Goal[] = [];
  let crashed = false;
  for (const bench of selected) {
    log();
    log(`== ${bench.title}`);
    const started = performance.now();
    try {
      goals.push(...(await bench.run({ reps, log })));
    } catch (error) {
      crashed = true;
      log(`bench ${bench.name} failed: ${(error as Error).stack ?? String(error)}`);
      goals.push({ name: `${bench.name}: (benchmark failed)`, measured: '-', goal: '-', verdict: 'MISS' });
    } finally {
      cleanUp();
    }
    for (const warning of ptgWarnings) log(`ptg printed on stderr: ${warning}`);
    ptgWarnings.clear();
    log(`(${bench.name}: ${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }

  log();
  log('== summary');
  for (const line of table(['goal', 'measured', 'target', 'verdict'], goals.map((g) => [g.name, g.measured, g.goal, g.verdict]), true)) log(line);
  return crashed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    cleanUp();
    process.exit(1);
  },
);
