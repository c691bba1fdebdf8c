import path from 'node:path';
import fs from 'fs-extra';
import { EXPERIMENT_FILES } from '../core/experiment-folder.js';
import { findRun } from '../core/manifest.js';
import { findVersion } from '../core/root.js';
import { readTranscript } from '../core/transcript.js';
import { EXIT, PtgError, UsageError } from '../errors.js';
import { toolSummaryLines, transcriptLines } from '../render/transcript.js';
import { type GlobalFlags, loadContext, printJson } from './context.js';

export interface ShowFlags extends GlobalFlags {
  args: string[];
  stp?: string;
  model?: string;
  repeat?: string;
  tools?: boolean;
}

/** `ptg show <version> [run-id] --stp 3`: what that experiment's agent did, as far as it has got. */
export async function showCommand(flags: ShowFlags): Promise<number> {
  const ctx = await loadContext(flags);
  const [versionName, runId] = flags.args as [string, string | undefined];
  findVersion(ctx.root, versionName);
  if (!flags.stp) throw new UsageError('Name the experiment: ptg show <version> [run-id] --stp ID (and --model M, --repeat K where the run has them).');
  const run = await findRun(ctx.workspace, versionName, runId);
  const matches = run.experiments.filter((e) => e.stp === flags.stp && (!flags.model || e.model === flags.model) && (!flags.repeat || String(e.repeat) === flags.repeat));
  if (matches.length === 0) throw new PtgError(`Run ${run.runId} of ${versionName} has no experiment of STP ${flags.stp}${flags.model ? ` with model ${flags.model}` : ''}.`);
  if (matches.length > 1) {
    throw new UsageError(`Run ${run.runId} has ${matches.length} experiments of STP ${flags.stp}: say which with ${run.models ? '--model' : ''}${run.models && run.repeat > 1 ? ' and ' : ''}${run.repeat > 1 ? '--repeat' : ''}.`);
  }
  const file = path.join(matches[0]!.dir, EXPERIMENT_FILES.jsonl);
  if (!(await fs.pathExists(file))) throw new PtgError(`STP ${flags.stp} of ${versionName} ${run.runId} has no output yet (${matches[0]!.state}).`);
  const transcript = await readTranscript(file);
  if (flags.json) {
    printJson({ format: 1, version: versionName, runId: run.runId, stp: flags.stp, state: matches[0]!.state, file, ...transcript });
    return EXIT.ok;
  }
  for (const line of flags.tools ? toolSummaryLines(transcript) : transcriptLines(transcript)) ctx.result(line);
  return EXIT.ok;
}
