import path from 'node:path';
import { EXAMPLES_DIR, runDemo } from '../demo/demo.js';
import { bannerLines, finalLines, stepLine, stepResultLines } from '../demo/render.js';
import { EXIT, isSignalExit, UsageError } from '../errors.js';
import { type GlobalFlags, output, printJson } from './context.js';

/** `ptg demo [dir]`: the whole pipeline on the bundled example with a scripted model, offline. */
export async function demoCommand(flags: GlobalFlags & { args: string[] }): Promise<number> {
  if (flags.root || flags.workspace) {
    throw new UsageError('ptg demo makes its own experiment root and workspace in the demo folder: --root and --workspace do not apply.');
  }
  const ctx = output(flags);
  const dir = path.resolve(flags.args[0] ?? 'ptg-demo');
  const result = await runDemo(dir, {
    onReady: (info) => bannerLines({ ...info, examples: EXAMPLES_DIR }).forEach((line) => ctx.print(line)),
    onStepStarted: (step) => ctx.print(stepLine(step)),
    onStepFinished: (step) => stepResultLines(step).forEach((line) => ctx.print(line)),
  });
  // The end says where the reports are: printed even with --quiet.
  for (const line of finalLines(result)) ctx.out.write(`${line}\n`);
  if (flags.json) {
    printJson({
      dir: result.paths.dir,
      root: result.paths.root,
      upstream: result.paths.upstream,
      claude: result.claude,
      ok: !result.failed,
      steps: result.steps.map((s) => ({ args: s.step.args, exitCode: s.exitCode, durationMs: s.durationMs, ok: s.ok })),
      reports: result.reports,
      comparison: result.comparison,
      durationMs: result.durationMs,
    });
  }
  if (!result.failed) return EXIT.ok;
  // A step a signal wound down: the demo was interrupted too, and says so with the same code.
  return isSignalExit(result.failed.exitCode) ? result.failed.exitCode : EXIT.failed;
}
