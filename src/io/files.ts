import { randomBytes } from 'node:crypto';
import path from 'node:path';
import fs from 'fs-extra';
import { PtgError } from '../errors.js';

/**
 * Copies the files under `srcDir` that match `patterns` (globs, dot files and git-ignored files
 * included, never `.git/`) to the same paths under `destDir`. Returns their relative paths, sorted.
 */
export async function copyMatching(srcDir: string, patterns: string[], destDir: string): Promise<string[]> {
  if (patterns.length === 0) return [];
  const { glob } = await import('tinyglobby');
  const files = (await glob(patterns, { cwd: srcDir, dot: true, onlyFiles: true, ignore: ['.git/**'], expandDirectories: false })).sort();
  for (const rel of files) await fs.copy(path.join(srcDir, rel), path.join(destDir, rel));
  return files;
}

/** Writes beside, then renames: a reader sees the old file or the new one, never half of one. */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  await fs.ensureDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, file);
}

/** JSON ptg writes carries `format`; reading checks it so an old ptg never misreads a newer file. */
export async function writeJsonAtomic(file: string, data: { format: number }): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(data, null, 2)}\n`);
}

export async function readJson<T extends { format: number }>(file: string, format: number): Promise<T> {
  let data: T;
  try {
    data = JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (error) {
    throw new PtgError(`Cannot read ${file}: ${(error as Error).message}`);
  }
  if (data?.format !== format) {
    throw new PtgError(`${file} has format ${String(data?.format)}, this ptg reads format ${format}: use the ptg that wrote it.`);
  }
  return data;
}

export async function readJsonIfExists<T extends { format: number }>(file: string, format: number): Promise<T | undefined> {
  return (await fs.pathExists(file)) ? readJson<T>(file, format) : undefined;
}

/**
 * The last `count` lines of a file, read backwards in blocks so a 500 MB log costs a few
 * kilobytes of memory.
 */
export async function tailLines(file: string, count: number): Promise<string[]> {
  const handle = await fs.promises.open(file, 'r').catch(() => undefined);
  if (!handle) return [];
  try {
    const { size } = await handle.stat();
    const block = 64 * 1024;
    let position = size;
    let text = '';
    while (position > 0) {
      const length = Math.min(block, position);
      position -= length;
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, position);
      text = buffer.toString('latin1') + text;
      if (text.split('\n').length > count + 1) break;
    }
    const lines = Buffer.from(text, 'latin1').toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    return lines.slice(-count);
  } finally {
    await handle.close();
  }
}
