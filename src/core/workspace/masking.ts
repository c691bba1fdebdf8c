// Secrets off disk: the values of a run's secrets replaced by `***NAME***` in the files ptg keeps,
// with where and how often (names and counts, never values) for status.json's `masked`.
import path from 'node:path';
import fs from 'fs-extra';
import { maskFile, type Secret } from '../../io/mask.js';
import type { MaskedFile } from './manifest.js';
import { listFiles } from './park.js';

/** Masks every file of the experiment folder: the raw output, stderr, the patch, the copies. */
export async function maskFolder(dir: string, secrets: Secret[]): Promise<MaskedFile[]> {
  if (secrets.length === 0) return [];
  const files = (await listFiles(dir)).filter((f) => f !== 'status.json' && !f.endsWith('.tmp'));
  return maskEach(dir, files, secrets, 'experiment');
}

/** Masks `files` (paths relative to `dir`) that are regular files. */
export async function maskEach(dir: string, files: string[], secrets: Secret[], where: MaskedFile['where']): Promise<MaskedFile[]> {
  const masked: MaskedFile[] = [];
  for (const rel of files) {
    const stat = await fs.lstat(path.join(dir, rel)).catch(() => undefined);
    if (!stat?.isFile()) continue;
    for (const [name, count] of await maskFile(path.join(dir, rel), secrets)) masked.push({ where, file: rel, name, count });
  }
  return masked;
}
