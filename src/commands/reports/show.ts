import path from 'node:path';
import fs from 'fs-extra';
import { EXPERIMENT_FILES } from '../../core/workspace/experiment-folder.js';
import { experimentFolder, findRun, pickExperiment } from '../../core/workspace/manifest.js';
import { findVersion } from '../../core/root/root.js';
import { readTranscript } from '../../core/reports/transcript.js';
import { EXIT, PtgError, UsageError } from '../../errors.js';
import { toolSummaryLines, transcriptLines } from '../../render/transcript.js';
import { type GlobalFlags, loadContext, printJson, oneModel } from '../context.js';

export interface ShowFlags extends GlobalFlags {
  args: string[];
  stp?: string;
  model?: string[];
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
  const experiment = pickExperiment(run, { stp: flags.stp, model: oneModel(flags.model), repeat: flags.repeat });
  const file = path.join(await experimentFolder(ctx.workspace, experiment), EXPERIMENT_FILES.jsonl);
  if (!(await fs.pathExists(file))) throw new PtgError(`STP ${flags.stp} of ${versionName} ${run.runId} has no output yet (${experiment.state}).`);
  const transcript = await readTranscript(file);
  if (flags.json) {
    printJson({ format: 1, version: versionName, runId: run.runId, stp: flags.stp, state: experiment.state, file, ...transcript });
    return EXIT.ok;
  }
  for (const line of flags.tools ? toolSummaryLines(transcript) : transcriptLines(transcript)) ctx.result(line);
  return EXIT.ok;
}
