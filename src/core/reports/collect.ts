import path from 'node:path';
import fs from 'fs-extra';
import { PtgError } from '../../errors.js';
import { findRun, type RunManifest, runDir } from '../workspace/manifest.js';
import { mergeRun } from './merge.js';
import { EXPERIMENT_FILES, experimentLabel, stpFolder } from '../workspace/experiment-folder.js';
import { readTranscript, type Transcript } from './transcript.js';
import { buildReport, type Report } from './report.js';

export { stpFolder };

export interface Renderers {
  markdown(report: Report): string;
  html(report: Report): string;
  junit(report: Report): string;
  /** One experiment's transcript page (`stp_<id>/transcript.html`). */
  transcript(transcript: Transcript, title: string): string;
}

/** What a transcript page may hold of an agent's output: a few MB; the page says where it was cut. */
const TRANSCRIPT_CHARS = 2_000_000;

export interface CollectResult {
  report: Report;
  dir: string;
  /** Set when the summary was appended to $GITHUB_STEP_SUMMARY. */
  stepSummary?: string;
}

export function resultsDirName(version: string, runId: string): string {
  return `results_${version}_${runId}`;
}


/**
 * Writes the results folder of a report: summary.md/.json, report.html, junit.xml and a copy of
 * each experiment folder. Built beside the final folder and renamed into place, so a reader
 * never sees half a report, and re-collecting replaces the old one whole.
 */
export async function writeResults(report: Report, experimentDirs: string[], outDir: string, render: Renderers, movable = new Set<string>(), carryDir?: string): Promise<string> {
  const tmp = `${outDir}.tmp-${process.pid}`;
  await fs.remove(tmp);
  await fs.ensureDir(tmp);
  await fs.writeFile(path.join(tmp, 'summary.json'), `${JSON.stringify(report, null, 2)}\n`);
  await fs.writeFile(path.join(tmp, 'summary.md'), render.markdown(report));
  await fs.writeFile(path.join(tmp, 'report.html'), render.html(report));
  await fs.writeFile(path.join(tmp, 'junit.xml'), render.junit(report));
  for (const [i, e] of report.experiments.entries()) {
    const src = experimentDirs[i]!;
    const dest = path.join(tmp, stpFolder(e));
    // Folders unpacked for this report move in; others are copied, so later runs and `ptg clean`
    // cannot change a report.
    if (movable.has(src)) await fs.rename(src, dest);
    else if (await fs.pathExists(src)) await fs.copy(src, dest, { filter: (p) => !p.endsWith('.tmp') });
    const jsonl = path.join(dest, EXPERIMENT_FILES.jsonl);
    if (await fs.pathExists(jsonl)) {
      const transcript = await readTranscript(jsonl, { maxChars: TRANSCRIPT_CHARS });
      await fs.writeFile(path.join(dest, 'transcript.html'), render.transcript(transcript, `${report.version} ${report.runId} · STP ${experimentLabel(e.stp, e.requestedModel, e.repeat)}`));
    }
  }
  // A sequential run's last carried files (what the chain learned), kept by the run.
  if (carryDir && (await fs.pathExists(carryDir))) await fs.copy(carryDir, path.join(tmp, 'carry'));
  const old = `${outDir}.old-${process.pid}`;
  if (await fs.pathExists(outDir)) await fs.rename(outDir, old);
  await fs.rename(tmp, outDir);
  await fs.remove(old);
  return outDir;
}

/** Appends summary.md to GitHub's step summary when running under GitHub Actions. */
export async function appendStepSummary(markdown: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const file = env.GITHUB_STEP_SUMMARY;
  if (!file) return undefined;
  await fs.appendFile(file, `${markdown}\n`);
  return file;
}

/** Collects one run from packs or workspaces of several machines (`collect --from`). */
export async function collectMerged(sources: string[], version: string, runId: string, outRoot: string, render: Renderers, env: NodeJS.ProcessEnv): Promise<CollectResult> {
  await fs.ensureDir(outRoot);
  const { report, dirs, unpacked, cleanup } = await mergeRun(sources, version, runId, outRoot);
  try {
    const dir = await writeResults(report, dirs, path.join(outRoot, resultsDirName(version, runId)), render, unpacked);
    return { report, dir, stepSummary: await appendStepSummary(render.markdown(report), env) };
  } finally {
    await cleanup();
  }
}

/** Collects a run of this workspace: the latest of `version` unless `runId` is given. */
export async function collectRun(
  ws: string,
  version: string,
  runId: string | undefined,
  outRoot: string,
  render: Renderers,
  env: NodeJS.ProcessEnv,
): Promise<CollectResult> {
  const manifest: RunManifest = await findRun(ws, version, runId);
  if (manifest.experiments.length === 0) throw new PtgError(`Run ${manifest.runId} of ${version} has no experiments.`);
  const report = await buildReport(manifest);
  const carry = manifest.sequential ? path.join(runDir(ws, version, manifest.runId), 'carry') : undefined;
  const dir = await writeResults(report, manifest.experiments.map((e) => e.dir), path.join(outRoot, resultsDirName(version, manifest.runId)), render, new Set(), carry);
  const stepSummary = await appendStepSummary(render.markdown(report), env);
  return { report, dir, stepSummary };
}
