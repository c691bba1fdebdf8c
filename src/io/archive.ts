import fs from 'fs-extra';
import path from 'node:path';

/** Writes a gzipped tar of `entries` (paths relative to `cwd`), streamed by the system's tar. */
export async function packTar(file: string, cwd: string, entries: string[]): Promise<void> {
  await fs.ensureDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.tmp`;
  // Half-written files (atomic writes in progress) are not part of any result.
  const { execa } = await import('execa');
  await execa('tar', ['-czf', tmp, '--exclude=*.tmp', '-C', cwd, '--', ...entries]);
  await fs.rename(tmp, file);
}

/** Unpacks a gzipped tar into `dir`. */
export async function unpackTar(file: string, dir: string): Promise<void> {
  await fs.ensureDir(dir);
  const { execa } = await import('execa');
  await execa('tar', ['-xzf', file, '-C', dir]);
}
