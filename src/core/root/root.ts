// core/root/ — imports only io/ and errors; imported by core/workspace, core/agent, core/setup, core/checks, core/run, core/reports, render/, commands/. The order of core's folders: docs/architecture.md.
import path from 'node:path';
import fs from 'fs-extra';
import { UsageError } from '../../errors.js';
import { type Config, loadConfig } from './config.js';

export interface Stp {
  /** The file name without `.md`: `stps/3.md` -> `3`. */
  id: string;
  /** Absolute path of the STP file. */
  file: string;
}

export interface Version {
  name: string;
  kind: 'monolithic' | 'orchestrated';
  /** Absolute path of the version folder. */
  dir: string;
  /** `prompt.md` for a monolithic version, `orchestrator.md` for an orchestrated one. */
  entryFile: string;
}

export interface Root {
  dir: string;
  stps: Stp[];
  versions: Version[];
  config: Config;
}

const VERSION_DIR = /^v\d[\w.-]*$/;

/** Numbers sort as numbers (2 before 10), everything else as text after them. */
export function compareIds(a: string, b: string): number {
  const na = /^\d+$/.test(a) ? Number(a) : NaN;
  const nb = /^\d+$/.test(b) ? Number(b) : NaN;
  if (!Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  if (!Number.isNaN(na)) return -1;
  if (!Number.isNaN(nb)) return 1;
  return a.localeCompare(b, 'en', { numeric: true });
}

/** Reads an experiment root: its STPs, its version folders and its config. */
export async function loadRoot(rootDir: string): Promise<Root> {
  const dir = path.resolve(rootDir);
  if (!(await isDir(dir))) throw new UsageError(`Root folder ${dir} does not exist.`);
  const config = await loadConfig(dir);

  const stpDir = path.join(dir, 'stps');
  if (!(await isDir(stpDir))) {
    throw new UsageError(`No stps/ folder in ${dir}. Put one markdown file per STP there (stps/1.md, stps/2.md, ...), or pass --root.`);
  }
  const stps = (await fs.readdir(stpDir))
    .filter((name) => name.endsWith('.md'))
    .map((name) => ({ id: name.slice(0, -3), file: path.join(stpDir, name) }))
    .sort((a, b) => compareIds(a.id, b.id));
  if (stps.length === 0) throw new UsageError(`No STP files in ${stpDir}: add one markdown file per STP (1.md, 2.md, ...).`);
  const badId = stps.find((stp) => !/^[\w.-]+$/.test(stp.id));
  if (badId) throw new UsageError(`STP file "${path.basename(badId.file)}": an STP id may hold only letters, digits, "_", "-" and ".".`);

  const versions: Version[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !VERSION_DIR.test(entry.name)) continue;
    const vdir = path.join(dir, entry.name);
    if (await fs.pathExists(path.join(vdir, 'prompt.md'))) {
      versions.push({ name: entry.name, kind: 'monolithic', dir: vdir, entryFile: path.join(vdir, 'prompt.md') });
    } else if (await fs.pathExists(path.join(vdir, 'orchestrator.md'))) {
      versions.push({ name: entry.name, kind: 'orchestrated', dir: vdir, entryFile: path.join(vdir, 'orchestrator.md') });
    } else {
      throw new UsageError(`Version folder ${entry.name}/ has neither prompt.md (a monolithic version) nor orchestrator.md (an orchestrated one).`);
    }
  }
  if (versions.length === 0) {
    throw new UsageError(`No version folder in ${dir}: add one such as v1/prompt.md or v2/orchestrator.md.`);
  }
  versions.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  const unknown = Object.keys(config.versions ?? {}).filter((name) => !versions.some((v) => v.name === name));
  if (unknown.length > 0) {
    throw new UsageError(`ptg.config.json: "versions" names ${unknown.map((n) => `"${n}"`).join(', ')}, which the root has no folder for. Known versions: ${versions.map((v) => v.name).join(', ')}.`);
  }
  return { dir, stps, versions, config };
}

/** Finds a version by name, or says which ones exist. */
export function findVersion(root: Root, name: string): Version {
  const version = root.versions.find((v) => v.name === name);
  if (!version) {
    throw new UsageError(`No version \`${name}\`. Known versions: ${root.versions.map((v) => v.name).join(', ')}.`);
  }
  return version;
}

export interface Shard {
  index: number; // 1-based
  count: number;
}

/** `--shard 2/4`, or `--shard-from-env JOB_COMPLETION_INDEX --shard 4` style: index from a 0-based variable. */
export function shardOf(flags: { shard?: string; shardFromEnv?: string }): string | undefined {
  if (!flags.shardFromEnv) return flags.shard;
  const index = process.env[flags.shardFromEnv];
  if (index === undefined || !/^\d+$/.test(index)) throw new UsageError(`--shard-from-env: ${flags.shardFromEnv} is not set to a number.`);
  const count = flags.shard && /^\d+$/.test(flags.shard) ? flags.shard : undefined;
  if (!count) throw new UsageError('--shard-from-env needs --shard N, the number of shards.');
  return `${Number(index) + 1}/${count}`;
}

/** "2/4" -> { index: 2, count: 4 }. */
export function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index < 1 || index > count) {
    throw new UsageError(`Invalid shard "${text}": use i/n with 1 <= i <= n, like 2/4.`);
  }
  return { index, count };
}

/**
 * The STPs to work on: `--stp 1,3,5` (unknown ids are an error), then `--shard i/n`, which deals
 * the sorted ids round-robin so every STP is in exactly one shard and shard sizes differ by one at most.
 */
export function selectStps(stps: Stp[], ids?: string[], shard?: Shard): Stp[] {
  let selected = stps;
  if (ids && ids.length > 0) {
    const unknown = ids.filter((id) => !stps.some((stp) => stp.id === id));
    if (unknown.length > 0) {
      throw new UsageError(`Unknown STP ${unknown.join(', ')}. Known STPs: ${stps.map((s) => s.id).join(', ')}.`);
    }
    selected = stps.filter((stp) => ids.includes(stp.id));
  }
  if (shard) selected = selected.filter((_, i) => i % shard.count === shard.index - 1);
  return selected;
}

/** "1, 3,5" -> ["1", "3", "5"]. */
export function parseIdList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const ids = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) throw new UsageError(`--stp needs a list of STP ids, like --stp 1,3,5.`);
  return ids;
}

async function isDir(p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => undefined))?.isDirectory() ?? false;
}
