// A version's run settings (ptg.config.json for all versions, then the version's own), and the
// agent's environment: ptg's own plus `env` entries (config, then --env), checked against
// `requiredEnv` before anything starts. Names only ever reach a file; values stay in memory.
import path from 'node:path';
import fs from 'fs-extra';
import { UsageError } from '../../errors.js';
import { type Secret, secretsOf } from '../../io/mask.js';
import type { Better } from '../workspace/check-results.js';
import { type CheckSpec, checkSpecs } from '../checks/checks.js';
import type { Config } from '../root/config.js';

/** The agent's credentials: masked like the variables a run requires or adds. */
export const API_SECRETS = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN'];

/** What a version's runs need, add and keep: the settings for all versions, then the version's own. */
export function versionSettings(config: Config, version: string) {
  const own = config.versions?.[version];
  return {
    required: [...new Set([...(config.requiredEnv ?? []), ...(own?.requiredEnv ?? [])])],
    entries: [...(config.env ?? []), ...(own?.env ?? [])],
    artifacts: [...(config.artifacts ?? []), ...(own?.artifacts ?? [])],
    models: [own?.model ?? config.model ?? []].flat(),
    sequential: own?.sequential ?? config.sequential ?? false,
    carry: own?.carry ?? config.carry ?? [],
    checks: own?.checks ?? config.checks,
  };
}

/** The version's checks (`checks`, default pyright alone), each one checked: a bad one is the user's error before anything starts. */
export function checksOf(settings: ReturnType<typeof versionSettings>): CheckSpec[] {
  try {
    return checkSpecs(settings.checks);
  } catch (error) {
    throw new UsageError(`ptg.config.json: "checks": ${(error as Error).message}.`);
  }
}

/**
 * Which way each check's count is good, over the versions compared (their `checks`, each
 * checked). One check named with two directions is the user's error: its counts say opposite things.
 */
export function countDirections(config: Config, versions: string[]): Record<string, Better> {
  const directions: Record<string, { better: Better; version: string }> = {};
  for (const version of new Set(versions)) {
    for (const spec of checksOf(versionSettings(config, version))) {
      const seen = directions[spec.name];
      if (seen && seen.better !== spec.better) {
        throw new UsageError(`ptg.config.json: check "${spec.name}" is better "${seen.better}" for ${seen.version} and "${spec.better}" for ${version}: its counts cannot be compared; give both the same "better".`);
      }
      directions[spec.name] = { better: spec.better, version };
    }
  }
  return Object.fromEntries(Object.entries(directions).map(([name, d]) => [name, d.better]));
}

/** A carried file's path: inside the repository, `/`-separated, no `..`. */
export function carryPath(text: string): string {
  const p = text.replace(/\\/g, '/').replace(/^\.\//, '');
  if (!p || p.startsWith('/') || p.split('/').some((part) => part === '..' || part === '' || part === '.git')) {
    throw new UsageError(`--carry ${text}: give a path inside the repository, like GRAVEYARD.md or docs/LESSONS.md.`);
  }
  return p;
}

/**
 * `NAME=VALUE` sets a variable; `NAME` passes ptg's own value through (an error when ptg has
 * none: the user meant to give the agent something). Returns the environment and the names added.
 */
export function agentEnv(base: NodeJS.ProcessEnv, entries: string[]): { env: NodeJS.ProcessEnv; added: string[] } {
  const env = { ...base };
  const added: string[] = [];
  for (const entry of entries) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/s.exec(entry);
    if (!match) throw new UsageError(`--env ${entry.split('=')[0]}: use --env NAME or --env NAME=VALUE (NAME: letters, digits and "_").`);
    const [, name, value] = match as unknown as [string, string, string | undefined];
    if (value === undefined && !base[name]) throw new UsageError(`--env ${name}: ${name} is not set in ptg's environment, so there is nothing to pass on; use --env ${name}=VALUE.`);
    env[name] = value ?? base[name];
    if (!added.includes(name)) added.push(name);
  }
  return { env, added };
}

/** Refuses a run whose agent would miss a required variable (unset or empty), naming every one. */
export function requireEnv(env: NodeJS.ProcessEnv, required: string[], version: string): void {
  const missing = required.filter((name) => !env[name]);
  if (missing.length === 0) return;
  throw new UsageError(
    `${version} needs ${missing.join(', ')} in the agent's environment (requiredEnv in ptg.config.json), and ${missing.length > 1 ? 'they are' : 'it is'} not set: export ${missing.length > 1 ? 'them' : 'it'}, or pass --env NAME=VALUE. Nothing was started.`,
  );
}

/** The values every file of the run masks: the required and added variables and the agent's credentials. */
export function runSecrets(env: NodeJS.ProcessEnv, names: string[]): Secret[] {
  return secretsOf(env, [...names, ...API_SECRETS]);
}

/** --sequential, --carry and --carry-from over the config's `sequential` and `carry`: checked before anything starts. */
export async function chainSettings(
  flags: { sequential?: boolean; carry?: string[]; carryFrom?: string },
  settings: ReturnType<typeof versionSettings>,
): Promise<{ sequential: boolean; carry: string[]; carryFrom?: string }> {
  const sequential = flags.sequential ?? settings.sequential;
  const carry = (flags.carry?.length ? flags.carry : settings.carry).map(carryPath);
  if (!sequential && (carry.length || flags.carryFrom)) throw new UsageError('--carry and --carry-from hand files from one experiment to the next: they need --sequential (or "sequential": true).');
  let carryFrom: string | undefined;
  if (flags.carryFrom) {
    carryFrom = path.resolve(flags.carryFrom);
    const stat = await fs.stat(carryFrom).catch(() => undefined);
    if (!stat) throw new UsageError(`--carry-from ${flags.carryFrom}: no such file or folder.`);
    if (stat.isFile() && carry.length !== 1) throw new UsageError(`--carry-from ${flags.carryFrom} is one file: with ${carry.length} carried paths, give a folder that holds them under their repository paths.`);
  }
  return { sequential, carry, carryFrom };
}

/** `--model a,b --model c` over the config's `model`: the models of the run, in order, each once. */
export function modelsOf(flags: string[] | undefined, settings: ReturnType<typeof versionSettings>, agentArgs: string[]): string[] {
  const given = (flags ?? []).flatMap((m) => m.split(',')).map((m) => m.trim()).filter(Boolean);
  const models = [...new Set(given.length ? given : settings.models)];
  if (models.length && agentArgs.some((a) => a === '--model' || a.startsWith('--model='))) {
    throw new UsageError('The model is given twice: by --model (or "model" in ptg.config.json) and by an agent argument --model. Keep one.');
  }
  return models;
}
