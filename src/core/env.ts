// The agent's environment: ptg's own, plus `env` entries (config, then --env), checked against
// `requiredEnv` before anything starts. Names only ever reach a file; values stay in memory.
import { UsageError } from '../errors.js';
import { type Secret, secretsOf } from '../io/mask.js';
import type { Config } from './config.js';

/** The agent's credentials: masked like the variables a run requires or adds. */
export const API_SECRETS = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN'];

/** What a version's runs need, add and keep: the settings for all versions, then the version's own. */
export function envSettings(config: Config, version: string): { required: string[]; entries: string[]; artifacts: string[] } {
  const own = config.versions?.[version];
  return {
    required: [...new Set([...(config.requiredEnv ?? []), ...(own?.requiredEnv ?? [])])],
    entries: [...(config.env ?? []), ...(own?.env ?? [])],
    artifacts: [...(config.artifacts ?? []), ...(own?.artifacts ?? [])],
  };
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
