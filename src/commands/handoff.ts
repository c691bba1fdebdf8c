import { constants } from 'node:os';
import { chooseAgent } from '../core/agent/agent.js';
import { type HandoffPlan, type HandoffResult, handOff, planHandoff } from '../core/run/handoff.js';
import { findVersion } from '../core/root/root.js';
import { sandboxSettings } from '../core/agent/sandbox.js';
import { agentEnv, requireEnv, versionSettings } from '../core/run/settings.js';
import { EXIT, exitForSignal, PtgError, UsageError } from '../errors.js';
import { warningLine } from '../render/run.js';
import { c } from '../render/style.js';
import { type GlobalFlags, loadContext, printJson, oneModel } from './context.js';

export interface HandoffFlags extends GlobalFlags {
  args: string[];
  stp?: string;
  model?: string[];
  repeat?: string;
  print?: string;
  agent?: string;
  agentArg?: string[];
  env?: string[];
  sandbox?: string;
  sandboxRo?: string[];
  sandboxRw?: string[];
  network?: string;
  /** While the agent runs, every signal ptg receives goes to `handler` (src/cli.ts); undefined gives them back. */
  takeSignals(handler: ((signal: NodeJS.Signals) => void) | undefined): void;
}

/** A word for a shell: as it is when it needs no quotes. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The agent's exit code, or 128 + the number of the signal that ended it, as a shell reports it. */
function exitCodeOf(exit: NonNullable<HandoffResult['exit']>): number {
  if (exit.exitCode !== undefined) return exit.exitCode;
  const n = exit.signal ? constants.signals[exit.signal as NodeJS.Signals] : undefined;
  return n ? 128 + n : EXIT.failed;
}

/**
 * `ptg handoff <version> [run-id] --stp 3`: the experiment's session again, in its slot with its
 * files in place; `--print "question"` asks one question and prints the answer. ptg's own lines go
 * to stderr: stdout and the terminal are the agent's.
 */
export async function handoffCommand(flags: HandoffFlags): Promise<number> {
  const plan = await planOf(flags);
  if (plan.sandbox.warning) process.stderr.write(`${warningLine(plan.sandbox.warning)}\n`);
  const say = (line: string) => {
    if (!flags.quiet) process.stderr.write(`${line}\n`);
  };
  const which = `${plan.version} ${plan.runId} STP ${plan.stp}`;
  if (plan.versionChanged) say(`Note: ${plan.version} changed since run ${plan.runId}; the slot has it as installed now.`);

  let stoppedBy: NodeJS.Signals | undefined;
  const result = await handOff(plan, {
    onRestored: ({ savedPatch }) => {
      if (savedPatch) say(`Unsaved work in slot ${plan.slot} saved to ${savedPatch}`);
      say(`${plan.slotDir} holds the files of ${which}: base ${plan.baseCommit.slice(0, 10)} with its changes.patch (${plan.changedFiles} files).`);
    },
    onStarted: (agent) => {
      say(`Resuming session ${plan.sessionId} with ${plan.agentPath}${plan.question === undefined ? '; ptg waits until it exits.' : '.'}`);
      flags.takeSignals((signal) => {
        // In the terminal Ctrl-C reaches the agent itself, which uses it: passing it on would double it.
        if (plan.question === undefined && signal === 'SIGINT') return;
        stoppedBy ??= signal;
        agent.stop('interrupt');
      });
    },
  }).finally(() => flags.takeSignals(undefined));

  if (result.sessionGone) return sessionGone(plan, result, flags, which);
  const exit = result.exit!;
  if (exit.spawnError) throw new PtgError(`${exit.spawnError}. The files are in place in ${plan.slotDir}.`);
  if (result.answer !== undefined && !flags.json) process.stdout.write(result.answer);
  if (result.stderr) process.stderr.write(result.stderr);
  const code = stoppedBy && plan.question !== undefined ? exitForSignal(stoppedBy) : exitCodeOf(exit);
  if (flags.json) {
    printJson({ format: 1, version: plan.version, runId: plan.runId, stp: plan.stp, slot: plan.slotDir, sessionId: plan.sessionId, sessionFound: true, savedPatch: result.savedPatch, exitCode: code, answer: result.answer });
  }
  say(`The session ended (exit ${code}). ${plan.slotDir} keeps the files; the next \`ptg run\` resets it, saving it as a patch first if anything changed since the handoff.`);
  return code;
}

/** The experiment, its session and agent, from the flags; the version's environment required. */
async function planOf(flags: HandoffFlags): Promise<HandoffPlan> {
  const ctx = await loadContext(flags);
  const [versionName] = flags.args as [string];
  findVersion(ctx.root, versionName);
  if (!flags.stp) throw new UsageError('Name the experiment: ptg handoff <version> [run-id] --stp ID (and --model M, --repeat K where the run has them).');
  if (flags.print !== undefined && !flags.print.trim()) throw new UsageError('--print needs a question: --print "Which tests did you write?"');
  const settings = versionSettings(ctx.root.config, versionName);
  const { env } = agentEnv(process.env, [...settings.entries, ...(flags.env ?? [])]);
  requireEnv(env, settings.required, versionName);
  return planHandoff({
    workspace: ctx.workspace,
    version: versionName,
    runId: flags.args[1],
    choice: { stp: flags.stp, model: oneModel(flags.model), repeat: flags.repeat },
    agentCommand: flags.agent,
    defaultAgent: chooseAgent(undefined, process.env, ctx.root.config.agent?.command).command,
    extraArgs: flags.agentArg ?? [],
    env,
    question: flags.print,
    sandbox: sandboxSettings(flags, process.env, ctx.root.config.sandbox, { root: ctx.root.dir, cwd: process.cwd() }, { name: versionName, network: ctx.root.config.versions?.[versionName]?.sandbox?.network }),
  });
}

/** No session to resume: the files are back all the same, and how to start a fresh one on them. */
function sessionGone(plan: HandoffPlan, result: HandoffResult, flags: HandoffFlags, which: string): number {
  const tell = (line: string) => process.stderr.write(`${line}\n`);
  const fresh = `cd ${shellWord(plan.slotDir)} && ${[plan.agentCommand, ...(plan.model ? ['--model', plan.model] : [])].map(shellWord).join(' ')}`;
  tell(
    plan.sessionId
      ? `${c.red('ptg:')} Claude Code has no session ${plan.sessionId} for this slot (no ${plan.sessionFile}): its store was cleaned, or the run came from another machine.`
      : `${c.red('ptg:')} ${which} recorded no session id: its agent never started a session.`,
  );
  tell(`The files are in place all the same; start a fresh session on them with: ${fresh}`);
  if (flags.json) printJson({ format: 1, version: plan.version, runId: plan.runId, stp: plan.stp, slot: plan.slotDir, sessionId: plan.sessionId, sessionFound: false, savedPatch: result.savedPatch });
  return EXIT.failed;
}
