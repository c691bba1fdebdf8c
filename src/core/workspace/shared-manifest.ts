// A manifest that several ptg processes write at once: the tasks of a Slurm run, each carrying out
// its share of the experiments, perhaps on other machines that see the same file system. Each
// change is read, made and written whole under a lock file, so no process undoes another's.
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import fs from 'fs-extra';
import { PtgError } from '../../errors.js';
import { writeJsonAtomic } from '../../io/files.js';
import { manifestFile, type ManifestExperiment, readManifest, type RunManifest } from './manifest.js';

/** A holder is done in milliseconds: a lock older than this was left by a process that died holding it. */
const ABANDONED_MS = 10_000;
const WAIT_MS = 60_000;

/** Reads the manifest, lets `change` alter it, writes it back: one process at a time. */
export async function updateManifest<T>(ws: string, version: string, runId: string, change: (manifest: RunManifest) => T): Promise<T> {
  const lock = `${manifestFile(ws, version, runId)}.lock`;
  await takeLock(lock);
  try {
    const manifest = await readManifest(ws, version, runId);
    if (!manifest) throw new PtgError(`Run ${runId} of ${version} has no manifest in ${ws}.`);
    const result = change(manifest);
    await writeJsonAtomic(manifestFile(ws, version, runId), manifest);
    return result;
  } finally {
    await fs.unlink(lock).catch(() => undefined);
  }
}

/** Puts these experiments' entries (by folder) into the shared manifest, and what the run learnt of its agent. */
export function mergeExperiments(ws: string, mine: RunManifest, dirs: Set<string>): Promise<void> {
  return updateManifest(ws, mine.version, mine.runId, (shared) => {
    shared.experiments = shared.experiments.map((e) => (dirs.has(e.dir) ? (mine.experiments.find((x) => x.dir === e.dir) as ManifestExperiment) : e));
    if (shared.agent.version === 'unknown') shared.agent.version = mine.agent.version;
    if (!shared.model && !shared.models) shared.model = mine.model;
  });
}

async function takeLock(lock: string): Promise<void> {
  const until = Date.now() + WAIT_MS;
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    try {
      await fs.writeFile(lock, `${process.pid}@${os.hostname()}\n`, { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const age = Date.now() - ((await fs.stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now());
    if (age > ABANDONED_MS) await fs.unlink(lock).catch(() => undefined);
    else if (Date.now() > until) throw new PtgError(`The manifest's lock ${lock} has been held for a minute: remove it if no ptg of this run is running.`);
    else await sleep(wait);
  }
}
