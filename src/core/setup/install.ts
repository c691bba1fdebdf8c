import { createHash } from 'node:crypto';
import path from 'node:path';
import fs from 'fs-extra';
import type { Version } from '../root/root.js';
import { listFiles, removeEmptyParents } from '../workspace/park.js';
import type { InstalledVersion } from '../workspace/workspace.js';

export interface InstallFile {
  /** Path inside the slot, `/`-separated: `.claude/commands/v1-unified-prompt.md`. */
  dest: string;
  src: string;
}

export interface VersionInstall {
  version: string;
  hash: string;
  files: InstallFile[];
}

/** The command a version's prompt is installed as (without `.md`). */
export function commandName(version: Version): string {
  return version.kind === 'monolithic' ? `${version.name}-unified-prompt` : `${version.name}-orchestrator`;
}

/** A skill folder keeps its name when it already carries the version prefix. */
export function skillName(version: string, folder: string): string {
  return folder.startsWith(`${version}-`) ? folder : `${version}-${folder}`;
}

/** Which files a version puts into a slot's `.claude/`, and the hash of their contents. */
export async function planVersionInstall(version: Version): Promise<VersionInstall> {
  const files: InstallFile[] = [{ dest: `.claude/commands/${commandName(version)}.md`, src: version.entryFile }];
  const skillsDir = path.join(version.dir, 'skills');
  if (await fs.pathExists(skillsDir)) {
    for (const entry of (await fs.readdir(skillsDir, { withFileTypes: true })).sort(byName)) {
      if (!entry.isDirectory()) continue;
      const base = `.claude/skills/${skillName(version.name, entry.name)}`;
      for (const rel of await listFiles(path.join(skillsDir, entry.name))) {
        files.push({ dest: `${base}/${rel}`, src: path.join(skillsDir, entry.name, rel) });
      }
    }
  }
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${file.dest}\0`).update(await fs.readFile(file.src)).update('\0');
  return { version: version.name, hash: hash.digest('hex'), files };
}

/**
 * Copies the versions' files into the slot and removes the files ptg installed earlier that no
 * version provides any more. Files ptg never installed are not touched.
 */
export async function applyInstall(slotDir: string, installs: VersionInstall[], previous: InstalledVersion[]): Promise<InstalledVersion[]> {
  const wanted = new Set(installs.flatMap((v) => v.files.map((f) => f.dest)));
  for (const install of installs) {
    for (const file of install.files) await fs.copy(file.src, path.join(slotDir, file.dest), { preserveTimestamps: true });
  }
  for (const stale of previous.flatMap((v) => v.files).filter((f) => !wanted.has(f))) {
    await fs.remove(path.join(slotDir, stale));
    await removeEmptyParents(slotDir, path.dirname(stale));
  }
  return installs.map((v) => ({ version: v.version, hash: v.hash, files: v.files.map((f) => f.dest) }));
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
