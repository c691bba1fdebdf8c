// Start-up: how long ptg takes to answer when it has almost nothing to do, beside `node -e 0`
// (Node's own start-up, the floor) measured in the same rounds. Each command loads its module
// only when it runs, so --version and --help should cost little more than Node itself.
import { spawn } from 'node:child_process';
import { type Benchmark, fmt, goal, type Goal, makeRoot, median, PTG_BIN, removeDir, table, tmpDir } from './support.js';

const ROUNDS = 20;
const WARM_UP = 2;

/**
 * Wall time from spawn to exit, output to /dev/null. Not `measure()`: /usr/bin/time would add its
 * own start-up to both sides and shrink the ratio this benchmark is about.
 */
function wall(argv: string[], cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { cwd, stdio: 'ignore', env: { ...process.env, NO_COLOR: '1', CI: 'true' } });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(performance.now() - started);
      else reject(new Error(`${argv.join(' ')} exited with ${code ?? signal}`));
    });
  });
}

export const startupBench: Benchmark = {
  name: 'startup',
  title: `startup: ptg --version, --help and runs --json beside node -e 0, ${ROUNDS} interleaved rounds, medians`,
  async run(ctx) {
    const dir = tmpDir();
    try {
      // A root with an empty workspace: `ptg runs --json` reads the root and finds no runs.
      const root = makeRoot(dir, 1);
      const commands: [string, string[]][] = [
        ['node -e 0', [process.execPath, '-e', '0']],
        ['ptg --version', [process.execPath, PTG_BIN, '--version']],
        ['ptg --help', [process.execPath, PTG_BIN, '--help']],
        ['ptg runs --json', [process.execPath, PTG_BIN, 'runs', '--json']],
      ];
      const times = new Map(commands.map(([name]) => [name, [] as number[]]));
      for (let round = 0; round < WARM_UP + ROUNDS; round++) {
        // A different order each round, so a slow spell of the machine does not always hit the same command.
        const order = commands.map((_, i) => commands[(i + round) % commands.length]!);
        for (const [name, argv] of order) {
          const ms = await wall(argv, root);
          if (round >= WARM_UP) times.get(name)!.push(ms);
        }
      }

      const floor = median(times.get('node -e 0')!);
      const rows = commands.map(([name]) => {
        const ms = times.get(name)!;
        return [name, `${median(ms).toFixed(1)} ms`, `${Math.min(...ms).toFixed(1)} ms`, fmt.x(median(ms) / floor)];
      });
      for (const line of table(['', 'median', 'fastest', '× node -e 0'], rows)) ctx.log(line);

      const ratio = (name: string) => median(times.get(name)!) / floor;
      const figure = (name: string) => `${median(times.get(name)!).toFixed(0)} ms = ${fmt.x(ratio(name))} (node -e 0: ${floor.toFixed(0)} ms)`;
      const goals: Goal[] = [
        goal('startup: ptg --version vs node -e 0', figure('ptg --version'), '≤ 1.5×', ratio('ptg --version') <= 1.5),
        goal('startup: ptg --help vs node -e 0', figure('ptg --help'), '≤ 1.5×', ratio('ptg --help') <= 1.5),
        { name: 'startup: ptg runs --json, empty workspace, vs node -e 0', measured: figure('ptg runs --json'), goal: '-', verdict: 'INFO' },
      ];
      return goals;
    } finally {
      removeDir(dir);
    }
  },
};
