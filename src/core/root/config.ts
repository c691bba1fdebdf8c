import path from 'node:path';
import fs from 'fs-extra';
import { UsageError } from '../../errors.js';
import type { Config } from './config-schema.js';

export type { Config };

export const CONFIG_FILE = 'ptg.config.json';
export const DEFAULT_REPO = 'https://github.com/Ruclo/openshift-virtualization-tests.git';

/** Reads and validates `<root>/ptg.config.json`; no file means an empty config. */
export async function loadConfig(root: string): Promise<Config> {
  const file = path.join(root, CONFIG_FILE);
  if (!(await fs.pathExists(file))) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`${CONFIG_FILE} is not valid JSON: ${(error as Error).message}`);
  }
  const { Config: schema, VersionSettings } = await import('./config-schema.js');
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? `"${issue.path.join('.')}"` : 'top level';
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((key) => `"${[...issue.path, key].join('.')}"`).join(', ');
      const known = Object.keys((issue.path[0] === 'versions' ? VersionSettings : schema).shape);
      throw new UsageError(`${CONFIG_FILE}: unknown key ${keys}. Known keys${issue.path.length ? ` in "${issue.path.join('.')}"` : ''}: ${known.join(', ')}.`);
    }
    throw new UsageError(`${CONFIG_FILE}: ${where}: ${issue.message}.`);
  }
  return parsed.data;
}
