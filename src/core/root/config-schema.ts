// The schema of ptg.config.json: one zod schema is its validation and its type. Loaded only
// when a root has a config file, so commands start without zod.
import { z } from 'zod';
import { configHelp } from './options.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envName = z.string().regex(ENV_NAME, 'an environment variable name: letters, digits and "_"');
/** `NAME` (passed through from ptg's environment) or `NAME=VALUE`. */
const envEntry = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(=.*)?$/s, 'NAME or NAME=VALUE');
/** "90s", "30m", "2h", or a number of seconds: read by core/root/duration.ts. */
const duration = z.union([z.string().min(1), z.number().positive()]);
/** "on", "off", or the hosts an allow-list lets through: "pypi.org,127.0.0.1:8080" or a list; read by core/agent/network.ts. */
const network = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/** Settings that hold for every version, or for one under `versions`. */
const runSettings = {
  /** Variables the agent needs (a cluster's KUBECONFIG, a token): a run refuses to start without them. */
  requiredEnv: z.array(envName).optional(),
  /** Added to the agent's environment, like --env. */
  env: z.array(envEntry).optional().describe(configHelp('env')),
  /** Files kept from the slot after the agent ends (globs, ignored files too), like --artifact. */
  artifacts: z.array(z.string().min(1)).optional().describe(configHelp('artifacts')),
  /** The model, or models (a matrix: every STP with each), like --model. */
  model: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional().describe(configHelp('model')),
  /** One experiment at a time in STP order, like --sequential. */
  sequential: z.boolean().optional().describe(configHelp('sequential')),
  /** Repository paths carried from each experiment into the next (`GRAVEYARD.md`), like --carry. */
  carry: z.array(z.string().min(1)).optional().describe(configHelp('carry')),
  /**
   * Verdicts run in the slot after the agent ends: a built-in's name ("pyright", "pytest-collect")
   * or `{ name, timeout }`, or `{ name, run, count, better, timeout }`, a shell command with
   * `{files}`. None given: ["pyright"]. Which check may take what is checked in core/checks/checks.ts.
   */
  checks: z
    .array(
      z.union([
        z.string().min(1),
        z.strictObject({
          name: z.string().regex(/^[\w.-]+$/, 'a check name: letters, digits, "_", "-" and "."'),
          run: z.string().min(1).optional(),
          count: z.string().min(1).optional(),
          /** Which way its count is good; default "lower" (findings). */
          better: z.enum(['higher', 'lower']).optional(),
          /** A duration such as "90s", "20m", or a number of seconds; default 10 minutes. */
          timeout: duration.optional(),
        }),
      ]),
    )
    .optional(),
};

export const VersionSettings = z.strictObject({
  ...runSettings,
  /** This version's network, over the config's `sandbox.network`, like --network. */
  sandbox: z.strictObject({ network: network.optional().describe(configHelp('sandbox.network')) }).optional(),
});

export const Config = z.strictObject({
  ...runSettings,
  /** Per-version settings: `"versions": { "v3": { "requiredEnv": ["KUBECONFIG"] } }`. */
  versions: z.record(z.string(), VersionSettings).optional(),
  repo: z.string().min(1).optional().describe(configHelp('repo')),
  ref: z.string().min(1).optional().describe(configHelp('ref')),
  workspace: z.string().min(1).optional().describe(configHelp('workspace')),
  history: z.enum(['base', 'none']).optional().describe(configHelp('history')),
  /** false: no Python environment; a list: shell commands run in each slot instead of the default. */
  python: z.union([z.literal(false), z.array(z.string().min(1))]).optional(),
  agent: z
    .strictObject({
      command: z.string().min(1).optional().describe(configHelp('agent.command')),
      args: z.array(z.string()).optional(),
    })
    .optional(),
  concurrency: z.number().int().positive().optional().describe(configHelp('concurrency')),
  /** "200ms", "1s", 0 (all at once), or a number of seconds. */
  startGap: z.union([z.string().min(1), z.number().min(0)]).optional().describe(configHelp('startGap')),
  /** "6h" (default), "30m", 0 (never wait), or a number of seconds. */
  maxWait: z.union([z.string().min(1), z.number().min(0)]).optional().describe(configHelp('maxWait')),
  /**
   * Where agents run: "auto" (bubblewrap where it works, else none with a warning), "bwrap", "none";
   * or `{ mode, readOnly, readWrite }` with paths added to each agent's view (`~/…`, or relative to the root), like --sandbox;
   * `network`, what agents reach, like --network; `checkNetwork`, what checks reach (default "off").
   */
  sandbox: z
    .union([
      z.enum(['auto', 'bwrap', 'none']),
      z.strictObject({
        mode: z.enum(['auto', 'bwrap', 'none']).optional(),
        readOnly: z.array(z.string().min(1)).optional(),
        readWrite: z.array(z.string().min(1)).optional(),
        network: network.optional().describe(configHelp('sandbox.network')),
        checkNetwork: network.optional(),
        /** false: the model API's host is not added to an allow-list (the agent reaches its model through one you list). */
        modelApi: z.boolean().optional(),
      }),
    ])
    .optional().describe(configHelp('sandbox')),
  /** Where a run's experiments run: "local" (this machine), or "slurm" (a job array), like --executor. */
  executor: z.enum(['local', 'slurm']).optional().describe(configHelp('executor')),
  /** With executor slurm: tasks in the job array, like --shards. */
  shards: z.number().int().positive().optional().describe(configHelp('shards')),
  slurm: z.strictObject({ sbatchArgs: z.array(z.string().min(1)).optional().describe(configHelp('slurm.sbatchArgs')) }).optional(),
  /** Checks at once across a run's experiments (default: the number of cores), like --check-concurrency. */
  checkConcurrency: z.number().int().positive().optional().describe(configHelp('checkConcurrency')),
  /** A duration such as "90s", "30m", "2h", or a number of seconds. */
  timeout: duration.optional().describe(configHelp('timeout')),
  /** USD: no experiment starts once the run's recorded cost reaches it, like --max-cost. */
  maxCost: z.number().positive().optional().describe(configHelp('maxCost')),
  /** USD per experiment, passed to Claude Code as --max-budget-usd, like --max-cost-per-experiment. */
  maxCostPerExperiment: z.number().positive().optional().describe(configHelp('maxCostPerExperiment')),
  /** Runs an experiment again after a transient API error (429, 5xx, 529), at most this many times. */
  retries: z.number().int().min(0).optional().describe(configHelp('retries')),
  /** Ends an agent that printed nothing for this long (Claude Code can stall): "5m", or seconds. */
  idleTimeout: duration.optional().describe(configHelp('idleTimeout')),
  prompts: z
    .strictObject({
      /** Replaces `/${VERSION}-orchestrator STP file path: ${STP_PATH}`. */
      orchestrated: z.string().min(1).optional(),
      /** The line appended to a monolithic prompt; default `STP File: ${STP_PATH}`. */
      stpFileLine: z.string().optional(),
    })
    .optional(),
});

export type Config = z.infer<typeof Config>;
export type VersionSettings = z.infer<typeof VersionSettings>;
