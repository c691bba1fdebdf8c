// Every option of ptg's commands, declared once: its flags, its help, whether it repeats, and the
// key of ptg.config.json it overrides. cli.ts takes from here the options each command accepts (a
// command may say its own help where the option means something narrower there); the config's
// schema takes its descriptions from here, so `--help` and the config describe a setting alike.

export interface OptionSpec {
  /** Commander's flags: `--run-id <id>`, `-j, --concurrency <n>`. */
  flags: string;
  help: string;
  /** Given again, it adds a value (`--env A --env B`); the values come as a list. */
  repeatable?: boolean;
  /** The ptg.config.json key this flag overrides. */
  config?: string;
}

export const OPTIONS = {
  root: { flags: '--root <dir>', help: 'experiment root: stps/, version folders, ptg.config.json (default: current folder)' },
  workspace: { flags: '--workspace <dir>', help: 'workspace with the slots (default: <root>/parallel)', config: 'workspace' },
  json: { flags: '--json', help: 'print the result as JSON on stdout (human lines go to stderr)' },
  quiet: { flags: '-q, --quiet', help: 'print only errors and the final result' },
  repo: { flags: '--repo <url>', help: 'target repository (URL or path)', config: 'repo' },
  ref: { flags: '--ref <ref>', help: 'branch, tag or commit to check out (default: the repository HEAD)', config: 'ref' },
  history: { flags: '--history <base|none>', help: "what the slots hold of the base's past: base (default) its ancestors, none the one commit; never a later commit", config: 'history' },
  noPython: { flags: '--no-python', help: 'skip the Python environment (.venv with pyright)' },
  stp: { flags: '--stp <ids>', help: 'only these STPs, comma separated' },
  shard: { flags: '--shard <i/n>', help: 'only the i-th of n shares of the STPs' },
  shardFromEnv: { flags: '--shard-from-env <var>', help: 'take the 0-based shard index from this variable (with --shard N)' },
  concurrency: { flags: '-j, --concurrency <n>', help: 'agents at once (default: all selected); fewer for a while when the model API refuses starts for load', config: 'concurrency' },
  startGap: { flags: '--start-gap <duration>', help: "the first agents start this far apart, so that one burst does not trip the API's rate limiter (default 200ms; 0: all at once)", config: 'startGap' },
  maxWait: { flags: '--max-wait <duration>', help: "wait out the agent's usage limit when it resets within this long (default 6h); a later reset stops the run, resumable with --resume", config: 'maxWait' },
  timeout: { flags: '--timeout <duration>', help: 'per experiment: 90s, 30m, 2h; ends the agent and everything it started', config: 'timeout' },
  idleTimeout: { flags: '--idle-timeout <duration>', help: 'end an agent that printed nothing for this long (timed out, reason idle)', config: 'idleTimeout' },
  agent: { flags: '--agent <cmd>', help: 'agent binary instead of claude (env PTG_AGENT); the default arguments are still passed', config: 'agent.command' },
  agentArg: { flags: '--agent-arg <arg>', help: 'extra argument for the agent, repeatable: --agent-arg=--model --agent-arg=opus', repeatable: true },
  env: { flags: '--env <name[=value]>', help: "add to the agent's environment, repeatable: NAME passes ptg's own value on", repeatable: true, config: 'env' },
  model: { flags: '--model <model>', help: 'the model; several (repeatable, or a,b) make a matrix: every STP with each', repeatable: true, config: 'model' },
  checkConcurrency: { flags: '--check-concurrency <n>', help: 'checks (pyright, pytest-collect, yours) at once across the run (default: the number of cores)', config: 'checkConcurrency' },
  retries: { flags: '--retries <n>', help: 'run an experiment again after a transient API error (429, 5xx, 529 overloaded), at most n times', config: 'retries' },
  maxCost: { flags: '--max-cost <usd>', help: "start no experiment once the run's recorded cost reaches this; the rest are skipped (budget)", config: 'maxCost' },
  maxCostPerExperiment: { flags: '--max-cost-per-experiment <usd>', help: "passed to Claude Code as --max-budget-usd: it ends a session that spends more", config: 'maxCostPerExperiment' },
  dryRun: { flags: '--dry-run', help: 'print the plan (STPs, slots, argv, prompts\' first lines, env names) and start nothing' },
  sequential: { flags: '--sequential', help: 'one experiment at a time, in STP order (a version that learns as it goes)', config: 'sequential' },
  carry: { flags: '--carry <path>', help: 'with --sequential: a repository file each experiment hands to the next, repeatable: --carry GRAVEYARD.md', repeatable: true, config: 'carry' },
  carryFrom: { flags: '--carry-from <file>', help: 'what the first experiment of the chain receives: the carried file, or a folder of them' },
  artifact: { flags: '--artifact <glob>', help: 'keep files the agent left in the slot (ignored ones too), repeatable: --artifact test_run.log', repeatable: true, config: 'artifacts' },
  resume: { flags: '--resume <run-id>', help: 're-run only the experiments of that run that did not succeed' },
  runId: { flags: '--run-id <id>', help: 'use this run id instead of a timestamp (e.g. the CI run number)' },
  repeat: { flags: '--repeat <k>', help: 'run each STP k times (folders ..._r1 ... _rk)' },
  list: { flags: '--list', help: 'list the runs instead (same as `ptg runs`)' },
  strict: { flags: '--strict', help: 'in junit.xml, a failed check (pyright errors, a test that does not collect, ...) fails its test case too' },
  out: { flags: '--out <dir>', help: 'write results_<version>_<run-id>/ here (default: the workspace)' },
  from: { flags: '--from <dirs...>', help: 'merge the run from packs (ptg pack) or workspaces of other machines' },
  tools: { flags: '--tools', help: 'only the summary: calls per tool, files read and written, commands run, the first error' },
  check: { flags: '--check <names>', help: 'only these checks, comma separated (default: every check of the version)', repeatable: true },
  print: { flags: '--print <question>', help: 'ask one question headless and print the answer (for scripts and tests)' },
  failOnRegression: { flags: '--fail-on-regression', help: 'exit 1 when a later run is worse than the first beyond the noise (p < 0.05) in any metric: a CI gate' },
  all: { flags: '--all', help: 'finished runs too' },
  experiments: { flags: '--experiments', help: 'experiment folders in the slots and the run manifests' },
  results: { flags: '--results', help: 'results_* and comparison_* in the workspace' },
  slots: { flags: '--slots', help: 'the slot checkouts themselves (and their runs)' },
  version: { flags: '--version <v>', help: 'only this version\'s experiments and results' },
  force: { flags: '--force', help: 'remove slots even when they hold uncommitted work' },
  executor: { flags: '--executor <name>', help: 'local (default), or slurm: the experiments as one Slurm job array, its reports by a job after it', config: 'executor' },
  shards: { flags: '--shards <n>', help: 'with --executor slurm: tasks in the job array, the STPs dealt among them (default: one per STP)', config: 'shards' },
  sbatchArg: { flags: '--sbatch-arg <arg>', help: 'with --executor slurm: an argument for sbatch, repeatable: --sbatch-arg=--partition=gpu --sbatch-arg=--time=2:00:00', repeatable: true, config: 'slurm.sbatchArgs' },
  noWait: { flags: '--no-wait', help: 'with --executor slurm: print the job ids and return once submitted (ptg status follows the run)' },
  slurmTask: { flags: '--slurm-task', help: 'this ptg is one task of a run submitted to Slurm (set by the job script)' },
  sandbox: { flags: '--sandbox <mode>', help: 'auto (bubblewrap where it works, else none with a warning), bwrap, none (env PTG_SANDBOX)', config: 'sandbox' },
  sandboxRo: { flags: '--sandbox-ro <path>', help: "show the agent this file or folder read-only, repeatable: --sandbox-ro ~/.kube/config", repeatable: true },
  network: { flags: '--network <hosts>', help: 'what the agents reach: on (default), off, or only HOST[:PORT],... through a proxy (the model API added): --network pypi.org,files.pythonhosted.org', config: 'sandbox.network' },
  sandboxRw: { flags: '--sandbox-rw <path>', help: 'show the agent this file or folder read-write, repeatable: --sandbox-rw ~/.cache/pip', repeatable: true },
} satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/** The help of the option that overrides config key `key`, for the config's schema. */
export function configHelp(key: string): string {
  const spec = Object.values(OPTIONS as Record<string, OptionSpec>).find((o) => o.config === key);
  if (!spec) throw new Error(`no option overrides ${key}`);
  return `${spec.help} (like ${spec.flags.replace(/ <.*/, '')})`;
}
