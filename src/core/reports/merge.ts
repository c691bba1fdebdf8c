import os from 'node:os';
import path from 'node:path';
import fs from 'fs-extra';
import { PtgError } from '../../errors.js';
import { packTar, unpackTar } from '../../io/archive.js';
import { experimentRelDir, findRun, manifestFile, type ManifestExperiment, type RunManifest, readStatus, sortExperiments } from '../workspace/manifest.js';
import { assemble, readExperiment, type Report } from './report.js';

function relativeDir(e: Pick<ManifestExperiment, 'dir'>): string {
  return experimentRelDir(e.dir);
}

export function packName(version: string, runId: string, shard?: string): string {
  return `ptg-pack_${version}_${runId}${shard ? `_shard-${shard.replace('/', '-of-')}` : ''}.tar.gz`;
}

/** One archive of a run's experiment folders and its manifest: what a CI job uploads. */
export async function pack(ws: string, version: string, runId: string | undefined, outDir: string): Promise<{ file: string; experiments: number }> {
  const manifest = await findRun(ws, version, runId);
  const entries = [path.relative(ws, manifestFile(ws, version, manifest.runId))];
  for (const e of manifest.experiments) {
    if (await fs.pathExists(e.dir)) entries.push(relativeDir(e));
  }
  const file = path.join(outDir, packName(version, manifest.runId, manifest.shard));
  await packTar(file, ws, entries);
  return { file, experiments: entries.length - 1 };
}

interface Found {
  source: string;
  manifest: RunManifest;
  entry: ManifestExperiment;
  dir: string;
}

/** A source is a pack (.tar.gz) or a folder: a workspace, or an unpacked pack. */
async function openSource(source: string, scratch: string): Promise<string> {
  const stat = await fs.stat(source).catch(() => undefined);
  if (!stat) throw new PtgError(`--from ${source}: no such file or folder.`);
  if (stat.isDirectory()) return source;
  const dir = path.join(scratch, String((await fs.readdir(scratch)).length));
  await unpackTar(source, dir);
  return dir;
}

/**
 * Merges the experiments of one run brought back from several machines into one report, the
 * same a single machine would have written. The same experiment in two sources is an error
 * that names both: never dropped in silence.
 */
export async function mergeRun(
  sources: string[],
  version: string,
  runId: string,
  scratchParent = os.tmpdir(),
): Promise<{ report: Report; dirs: string[]; unpacked: Set<string>; cleanup: () => Promise<void> }> {
  // Beside the results, so unpacked folders can be renamed into them rather than copied.
  const scratch = await fs.mkdtemp(path.join(scratchParent, '.ptg-merge-'));
  const cleanup = () => fs.remove(scratch);
  try {
    const found = new Map<string, Found>();
    const manifests: RunManifest[] = [];
    for (const source of sources) {
      const root = await openSource(path.resolve(source), scratch);
      const file = manifestFile(root, version, runId);
      if (!(await fs.pathExists(file))) throw new PtgError(`--from ${source}: no run ${runId} of ${version} in it (looked for ${path.relative(root, file)}).`);
      const manifest = (await fs.readJson(file)) as RunManifest;
      manifests.push(manifest);
      for (const entry of manifest.experiments) {
        const dir = path.join(root, relativeDir(entry));
        // An experiment this shard planned but never started has no folder: it is not its result.
        if (!(await fs.pathExists(dir)) && entry.state === 'pending') continue;
        const key = `${entry.stp}#${entry.model ?? ''}#${entry.repeat ?? 1}`;
        const other = found.get(key);
        if (other) {
          throw new PtgError(`STP ${entry.stp}${entry.model ? ` ${entry.model}` : ''}${entry.repeat ? ` r${entry.repeat}` : ''} of ${version} ${runId} is in both ${other.source} and ${source}: keep one of them.`);
        }
        found.set(key, { source, manifest, entry, dir });
      }
    }
    if (found.size === 0) throw new PtgError(`No experiments of ${version} ${runId} in ${sources.join(', ')}.`);
    const list = sortExperiments([...found.values()].map((f) => ({ ...f, stp: f.entry.stp, repeat: f.entry.repeat, model: f.entry.model })));
    const first = [...manifests].sort((a, b) => a.startedAt.localeCompare(b.startedAt))[0]!;
    const experiments = [];
    for (const f of list) {
      const status = await readStatus(f.dir);
      experiments.push(await readExperiment(f.dir, { ...f.entry, state: status?.state ?? f.entry.state }, false));
    }
    const states = manifests.map((m) => m.state);
    const runState = states.every((s) => s === 'finished') ? 'finished' : states.includes('interrupted') ? 'interrupted' : states.includes('usage_limited') ? 'usage_limited' : 'stale';
    const merged: RunManifest = { ...first, shard: undefined, experiments: list.map((f) => f.entry), model: manifests.find((m) => m.model)?.model };
    const dirs = list.map((f) => f.dir);
    const unpacked = new Set(dirs.filter((d) => d.startsWith(scratch + path.sep)));
    return { report: assemble(merged, experiments, runState), dirs, unpacked, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
