import path from 'node:path';
import fs from 'fs-extra';
import { z } from 'zod';
import { UsageError } from '../errors.js';

export const CONFIG_FILE = 'ptg.config.json';
export const DEFAULT_REPO = 'https://github.com/Ruclo/openshift-virtualization-tests.git';

const Config = z.strictObject({
  repo: z.string().min(1).optional(),
  ref: z.string().min(1).optional(),
  workspace: z.string().min(1).optional(),
  /** false: no Python environment; a list: shell commands run in each slot instead of the default. */
  python: z.union([z.literal(false), z.array(z.string().min(1))]).optional(),
  agent: z
    .strictObject({
      command: z.string().min(1).optional(),
      args: z.array(z.string()).optional(),
    })
    .optional(),
  concurrency: z.number().int().positive().optional(),
  /** A duration such as "90s", "30m", "2h", or a number of seconds. */
  timeout: z.union([z.string().min(1), z.number().positive()]).optional(),
  /** Ends an agent that printed nothing for this long (Claude Code can stall): "5m", or seconds. */
  idleTimeout: z.union([z.string().min(1), z.number().positive()]).optional(),
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
  const parsed = Config.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? `"${issue.path.join('.')}"` : 'top level';
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((key) => `"${[...issue.path, key].join('.')}"`).join(', ');
      throw new UsageError(`${CONFIG_FILE}: unknown key ${keys}. Known keys: ${Object.keys(Config.shape).join(', ')}.`);
    }
    throw new UsageError(`${CONFIG_FILE}: ${where}: ${issue.message}.`);
  }
  return parsed.data;
}
