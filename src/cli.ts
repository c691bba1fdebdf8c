import { createRequire } from 'node:module';
import { Command, CommanderError, Option } from 'commander';
import type { CollectFlags } from './commands/reports/collect.js';
import type { RunFlags } from './commands/run.js';
import type { VerifyFlags } from './commands/verify.js';
import { OPTIONS, type OptionName } from './core/root/options.js';
import { environmentError, EXIT, exitForSignal, PtgError } from './errors.js';
import { killAllAgents, releaseHelpers } from './io/process/live-agents.js';

const pkg = createRequire(import.meta.url)('../package.json') as { version: string };
export const PTG_VERSION = pkg.version;

/**
 * Ctrl-C, SIGTERM or SIGHUP during `ptg run`: the run winds down through this signal (agents
 * ended, statuses written). A second one, or one during any other command, ends ptg at once.
 */
const interrupt = new AbortController();
let graceful = false;
/** While a handoff's agent runs, every signal goes to the handoff, which passes it on as it sees fit. */
let takeover: ((signal: NodeJS.Signals) => void) | undefined;

/** Option `name` of the table in core/root/options.ts, with this command's own help where it says one. */
function opt(name: OptionName, help?: string): Option {
  const spec: { flags: string; help: string; repeatable?: boolean } = OPTIONS[name];
  const option = new Option(spec.flags, help ?? spec.help);
  return spec.repeatable ? option.argParser(appendValue).default([]) : option;
}

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

function program(): Command {
  const cli = new Command('ptg')
    .description('Run LLM test-generation experiments (Claude Code on Software Test Plans) in parallel.')
    .version(PTG_VERSION, '-V', 'print the version (also --version)')
    .addOption(opt('root'))
    .addOption(opt('workspace'))
    .addOption(opt('json'))
    .addOption(opt('quiet'))
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText('after', examples(['ptg setup', 'ptg run v2.1', 'ptg collect v2.1', 'ptg compare v1 v2.1']));

  for (const declare of [setup, run, collect, pack, show, verify, handoff, runs, compare, status, doctor, clean, demo, slurmFinish]) declare(cli);
  return cli;
}

/** A command's action: its flags with the global ones (`--root`, `--json`, …), its exit code kept. */
function withGlobals<T>(cmd: Command, fn: (opts: T) => Promise<number>): Command {
  return cmd.action(async (...args: unknown[]) => {
    const self = args.at(-1) as Command;
    process.exitCode = await fn({ ...self.parent!.opts(), ...self.opts(), args: self.args } as T);
  });
}

function setup(cli: Command): void {
  withGlobals(
    cli
      .command('setup')
      .description('Make one isolated checkout (slot) of the target repository per STP, install every version, set up Python')
      .addOption(opt('repo'))
      .addOption(opt('ref'))
      .addOption(opt('history'))
      .addOption(opt('noPython'))
      .addOption(opt('stp'))
      .addOption(opt('shard'))
      .addOption(opt('shardFromEnv'))
      .addHelpText('after', examples(['ptg setup', 'ptg setup --repo ../my-tests --ref main --no-python', 'ptg setup --stp 1,3'])),
    lazy(() => import('./commands/setup.js'), (m) => m.setupCommand),
  );
}

function run(cli: Command): void {
  withGlobals(
    sandboxOptions(cli.command('run'))
      .description('Run one version on every STP (or some) in parallel, each agent in its own slot')
      .argument('<version>', 'a version folder of the root, e.g. v2.1')
      .addOption(opt('stp'))
      .addOption(opt('concurrency'))
      .addOption(opt('startGap'))
      .addOption(opt('maxWait'))
      .addOption(opt('timeout'))
      .addOption(opt('idleTimeout'))
      .addOption(opt('agent'))
      .addOption(opt('agentArg'))
      .addOption(opt('env'))
      .addOption(opt('model'))
      .addOption(opt('checkConcurrency'))
      .addOption(opt('retries'))
      .addOption(opt('maxCost'))
      .addOption(opt('maxCostPerExperiment'))
      .addOption(opt('dryRun'))
      .addOption(opt('sequential'))
      .addOption(opt('carry'))
      .addOption(opt('carryFrom'))
      .addOption(opt('artifact'))
      .addOption(opt('resume'))
      .addOption(opt('runId'))
      .addOption(opt('repeat'))
      .addOption(opt('shard'))
      .addOption(opt('shardFromEnv'))
      .addOption(opt('executor'))
      .addOption(opt('shards'))
      .addOption(opt('sbatchArg'))
      .addOption(opt('noWait'))
      .addOption(opt('slurmTask').hideHelp())
      .addHelpText(
        'after',
        examples([
          'ptg run v2.1',
          'ptg run v1 --stp 1,3 -j 2 --timeout 30m',
          'ptg run v2.2 --agent-arg=--model --agent-arg=sonnet',
          'ptg run v3 --env KUBECONFIG --env ARTIFACTORY_SERVER=https://artifactory.example',
          'ptg run v3 --sequential --carry GRAVEYARD.md --artifact test_run.log',
          'ptg run v2.1 --model opus,sonnet     # one experiment per STP and model',
          'ptg run v2.1 --resume 20260209_143022',
          'ptg run v2.1 --executor slurm --shards 8 --sbatch-arg=--partition=batch',
          'IS_SANDBOX=1 ptg run v2.1      # as root in a container',
        ]),
      ),
    lazy(() => import('./commands/run.js'), (m) => windsDown<RunFlags>(m.runCommand)),
  );
}

/** The report job of a run on Slurm (core/run/slurm.ts): not for people, so not in the help. */
function slurmFinish(cli: Command): void {
  withGlobals(
    cli.command('slurm-finish', { hidden: true }).description("Settle a Slurm run's end and write its reports (its report job runs this)").argument('<version>').argument('<run-id>'),
    lazy(() => import('./commands/slurm.js'), (m) => m.slurmFinishCommand),
  );
}

function collect(cli: Command): void {
  withGlobals(
    cli
      .command('collect')
      .description('Write the report of a run: summary.md, summary.json, report.html, junit.xml and a copy of every experiment')
      .argument('<version>', 'the version that ran')
      .argument('[run-id]', 'the run (default: the latest run of that version)')
      .addOption(opt('list'))
      .addOption(opt('strict'))
      .addOption(opt('out'))
      .addOption(opt('from'))
      .addHelpText(
        'after',
        examples(['ptg collect v2.1', 'ptg collect v2.1 20260209_143022', 'ptg collect v2.1 --strict --out reports/', 'ptg collect v2.1 ci-4711 --from packs/*.tar.gz']),
      ),
    async (opts: CollectFlags & { list?: boolean }) =>
      opts.list
        ? (await import('./commands/reports/runs.js')).runsCommand({ ...opts, args: opts.args.slice(0, 1) })
        : (await import('./commands/reports/collect.js')).collectCommand(opts),
  );
}

function pack(cli: Command): void {
  withGlobals(
    cli
      .command('pack')
      .description("Write one archive of a run's experiment folders and manifest (what a CI shard uploads)")
      .argument('<version>', 'the version that ran')
      .argument('[run-id]', 'the run (default: the latest run of that version)')
      .addOption(opt('out', 'where the archive goes (default: the workspace)'))
      .addHelpText('after', examples(['ptg pack v2.1 ci-4711 --out artifacts/', 'ptg collect v2.1 ci-4711 --from artifacts/*.tar.gz'])),
    lazy(() => import('./commands/reports/pack.js'), (m) => m.packCommand),
  );
}

function show(cli: Command): void {
  withGlobals(
    cli
      .command('show')
      .description("What an experiment's agent did, turn by turn: its text, each tool call and result, tokens, the end (works while it runs)")
      .argument('<version>', 'the version that ran')
      .argument('[run-id]', 'the run (default: the latest run of that version)')
      .addOption(opt('stp', 'the experiment: its STP'))
      .addOption(opt('model', 'with a run of several models: which'))
      .addOption(opt('repeat', 'with --repeat: which repeat'))
      .addOption(opt('tools'))
      .addHelpText('after', examples(['ptg show v2.1 --stp 3', 'ptg show v2.1 20260209_143022 --stp 3 --tools', 'ptg show v3 --stp 1 --model opus --json'])),
    lazy(() => import('./commands/reports/show.js'), (m) => m.showCommand),
  );
}

function verify(cli: Command): void {
  withGlobals(
    sandboxOptions(cli.command('verify'))
      .description("Run the checks again on a finished run's recorded changes in throwaway checkouts, with no agent: the new results join each status.json beside the old")
      .argument('<version>', 'the version that ran')
      .argument('[run-id]', 'the run (default: the latest run of that version)')
      .addOption(opt('check'))
      .addOption(opt('stp'))
      .addOption(opt('checkConcurrency', 'experiments verified at once, each in a checkout of its own (default: the number of cores)'))
      .addHelpText('after', examples(['ptg verify v2.1', 'ptg verify v2.1 20260209_143022 --check pytest-collect', 'ptg verify v3 --stp 1,3 --json'])),
    lazy(() => import('./commands/verify.js'), (m) => windsDown<VerifyFlags>(m.verifyCommand)),
  );
}

function handoff(cli: Command): void {
  withGlobals(
    sandboxOptions(cli.command('handoff'))
      .description("Open an experiment's agent session again in its slot, the agent's files in place: interactive, or one question with --print")
      .argument('<version>', 'the version that ran')
      .argument('[run-id]', 'the run (default: the latest run of that version)')
      .addOption(opt('stp', 'the experiment: its STP'))
      .addOption(opt('model', 'with a run of several models: which'))
      .addOption(opt('repeat', 'with --repeat: which repeat'))
      .addOption(opt('print'))
      .addOption(opt('agent', 'the agent binary (default: the command the run used)'))
      .addOption(opt('agentArg', 'extra argument for the agent, repeatable'))
      .addOption(opt('env'))
      .addHelpText(
        'after',
        examples(['ptg handoff v2.1 --stp 3', 'ptg handoff v2.1 20260209_143022 --stp 3 --print "Why did you skip the migration test?"', 'ptg handoff v3 --stp 1 --model opus']),
      ),
    lazy(
      () => import('./commands/handoff.js'),
      (m) => (opts: Omit<Parameters<typeof m.handoffCommand>[0], 'takeSignals'>) =>
        m.handoffCommand({ ...opts, takeSignals: (handler) => (takeover = handler) }),
    ),
  );
}

function runs(cli: Command): void {
  withGlobals(
    cli
      .command('runs')
      .description('List the runs in the workspace: version, run id, date, STPs, results, cost')
      .argument('[version]', 'only this version')
      .addHelpText('after', examples(['ptg runs', 'ptg runs v2.1', 'ptg runs --json'])),
    lazy(() => import('./commands/reports/runs.js'), (m) => m.runsCommand),
  );
}

function compare(cli: Command): void {
  withGlobals(
    cli
      .command('compare')
      .description('Compare runs STP by STP (status, checks, duration, cost, turns) with intervals, paired tests and warnings where the runs differ in more than the version')
      .argument('<version[@run-id]...>', 'versions, each with its latest run or the run after @; the first is the baseline')
      .addOption(opt('out', 'write comparison_<...>.md and .html here (default: the workspace)'))
      .addOption(opt('failOnRegression'))
      .addHelpText('after', examples(['ptg compare v1 v2.1', 'ptg compare v2.1@20260209_143022 v2.1@20260210_091500', 'ptg compare v1 v2.1 --fail-on-regression --json > comparison.json'])),
    lazy(() => import('./commands/reports/compare.js'), (m) => m.compareCommand),
  );
}

function status(cli: Command): void {
  withGlobals(
    cli
      .command('status')
      .description('What is running now (from another terminal): runs, agents, elapsed time, output so far, a Slurm run\'s jobs')
      .argument('[version]', 'only this version')
      .argument('[run-id]', 'this run, whatever its state')
      .addOption(opt('all'))
      .addHelpText('after', examples(['ptg status', 'ptg status v2.1 20260209_143022', 'ptg status --json'])),
    lazy(() => import('./commands/reports/status.js'), (m) => m.statusCommand),
  );
}

function doctor(cli: Command): void {
  withGlobals(
    sandboxOptions(cli.command('doctor'))
      .description('Check git, the agent and its login, uv/python, pyright, the sandbox, free disk, root, the workspace')
      .addOption(opt('agent', 'the agent to check instead of claude'))
      .addHelpText('after', examples(['ptg doctor', 'PTG_AGENT=./my-agent ptg doctor'])),
    lazy(() => import('./commands/doctor.js'), (m) => m.doctorCommand),
  );
}

function clean(cli: Command): void {
  withGlobals(
    cli
      .command('clean')
      .description('Remove experiment folders, results or slots; uncommitted work in a slot only with --force')
      .addOption(opt('experiments'))
      .addOption(opt('results'))
      .addOption(opt('slots'))
      .addOption(opt('all', 'all of the above'))
      .addOption(opt('version'))
      .addOption(opt('dryRun', 'list what would be removed'))
      .addOption(opt('force'))
      .addHelpText('after', examples(['ptg clean --results', 'ptg clean --experiments --version v1 --dry-run', 'ptg clean --all --force'])),
    lazy(() => import('./commands/clean.js'), (m) => m.cleanCommand),
  );
}

function demo(cli: Command): void {
  withGlobals(
    cli
      .command('demo')
      .description('Run the whole pipeline offline on the bundled example, with the real Claude Code and a scripted model (no real model is called)')
      .argument('[dir]', 'folder for the demo: a copy of the example, its upstream repository, the workspace and reports (default: ./ptg-demo)')
      .addHelpText('after', examples(['ptg demo', 'ptg demo /tmp/ptg-demo', 'npm run demo            # from a clone of ptg, after npm install'])),
    lazy(
      () => import('./commands/demo.js'),
      (m) => (opts: Parameters<typeof m.demoCommand>[0]) => {
        // Ctrl-C reaches the ptg commands the demo runs too: they wind down; the demo then reports and cleans up.
        graceful = true;
        return m.demoCommand(opts);
      },
    ),
  );
}

/** Where a command's agents and checks run: the same three options wherever one starts them. */
function sandboxOptions(cmd: Command): Command {
  return cmd
    .addOption(opt('sandbox'))
    .addOption(opt('sandboxRo'))
    .addOption(opt('sandboxRw'))
    .addOption(opt('network'));
}

function appendValue(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * A command that winds down on the first Ctrl-C, SIGTERM or SIGHUP (its processes ended, its
 * records written) through the signal it is given, rather than ending at once.
 */
function windsDown<F extends { signal: AbortSignal; ptgVersion: string }>(command: (flags: F) => Promise<number>) {
  return (opts: Omit<F, 'signal' | 'ptgVersion'>) => {
    graceful = true;
    return command({ ...opts, signal: interrupt.signal, ptgVersion: PTG_VERSION } as F);
  };
}

/**
 * A command's function, imported only when the command runs: `ptg --help` and `--version` load
 * commander alone, and `ptg runs` loads no execa or simple-git.
 */
function lazy<M, T>(load: () => Promise<M>, pick: (module: M) => (opts: T) => Promise<number>): (opts: T) => Promise<number> {
  return async (opts) => pick(await load())(opts);
}

/** The entry point: runs a command and exits with its code. The only place ptg exits. */
export async function main(argv: string[]): Promise<void> {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      // A closed terminal (after SIGHUP: EIO) or a reader that left (`ptg runs | head -1`: EPIPE)
      // is no reason to stop: the run winds down or finishes unseen.
      if (error.code !== 'EPIPE' && error.code !== 'EIO') void fail(error);
    });
  }
  process.on('uncaughtException', (error) => void fail(error));
  process.on('unhandledRejection', (error) => void fail(error));

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (takeover) return takeover(signal);
    signals += 1;
    if (signals === 1 && graceful) {
      // The command says so itself: its live view owns the terminal.
      interrupt.abort(signal);
    } else {
      killAllAgents('SIGKILL');
      process.exit(exitForSignal(signal));
    }
  };
  // SIGHUP too: a closed terminal or a dropped ssh session must wind the run down, not orphan its agents.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

  // Only a leading --version is ptg's own: commander would take `ptg clean --version v2` for it too.
  const args = argv[2] === '--version' ? [...argv.slice(0, 2), '-V', ...argv.slice(3)] : argv;
  try {
    await program().parseAsync(args);
  } catch (error) {
    process.exitCode = await report(error);
  }
  // A clean end: the run's agents have all ended; its helpers go before ptg does.
  await releaseHelpers();
  await exit(Number(process.exitCode ?? EXIT.ok));
}

let failing = false;

/** A failure outside every command's reach (a rejection no one awaited, a broken stream): one clear line, and no agent left running. */
async function fail(error: unknown): Promise<void> {
  killAllAgents('SIGKILL');
  if (failing) process.exit(EXIT.failed);
  failing = true;
  await exit(await report(error).catch(() => EXIT.failed));
}

/**
 * Exits once stdout and stderr have taken everything written to them: `process.exit()` right
 * after a write cuts a pipe to a slow reader at 64 KiB. Exiting at all, rather than returning,
 * keeps a stray timer or socket from holding ptg alive.
 */
async function exit(code: number): Promise<never> {
  process.exitCode = code;
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  // An empty write's callback runs after every write queued before it is out (or has failed).
  return new Promise((resolve) => (stream.writable ? stream.write('', () => resolve()) : resolve()));
}

async function report(error: unknown): Promise<number> {
  if (error instanceof CommanderError) {
    // commander has printed its message (or the help) already.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  // Loaded only now: --version and --help need no colours. Plain text if even that fails (EMFILE).
  const { c } = await import('./render/style.js').catch(() => ({ c: { red: (text: string) => text } }));
  const known = error instanceof PtgError ? error : environmentError(error);
  if (known) {
    process.stderr.write(`${c.red('ptg:')} ${known.message}\n`);
    return known.exitCode;
  }
  process.stderr.write(`${c.red('ptg: unexpected error')} — this is a bug in ptg; please report it with the lines below.\n`);
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  return EXIT.failed;
}
