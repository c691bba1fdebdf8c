// The demo's words: a banner that says what is real and what is scripted, each step as the
// command a user would type, and where the reports are.
import path from 'node:path';
import { isSignalExit } from '../errors.js';
import { c, sym } from '../render/style.js';
import type { ClaudeBinary, DemoPaths, DemoResult, DemoStep, StepResult } from './demo.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

export function bannerLines(info: { paths: DemoPaths; claude: ClaudeBinary; serverUrl: string; examples: string }): string[] {
  const { claude } = info;
  const which =
    claude.source === 'pinned'
      ? [`  claude        ${claude.version}, pinned with ptg: ${claude.path}`]
      : [
          `  claude        ${claude.version}, from PATH: ${claude.path}`,
          `                yours, but it spends nothing: the model is the local script, and claude runs with a`,
          `                throw-away HOME and none of your API keys or login`,
        ];
  return [
    c.bold('ptg demo: the whole pipeline on a bundled example, offline'),
    '',
    `${c.yellow('The model is scripted.')} A local fake of the Anthropic Messages API (${info.serverUrl})`,
    'answers with pre-written steps (examples/scripted-model/script.json). The real Claude Code CLI',
    'carries them out in each slot: it writes the test files and runs the commands.',
    'No real model is called, nothing leaves this machine, no money is spent: the costs in the',
    'reports are what Claude Code computes from the scripted usage.',
    '',
    ...which,
    `  example root  ${path.join(info.examples, 'root')}: 4 STPs, v1 (one prompt), v2 (orchestrator + skill)`,
    `  target        ${path.join(info.examples, 'target')}, committed to ${info.paths.upstream}`,
    `  demo folder   ${info.paths.dir}`,
    '',
  ];
}

/** The step as typed in the experiment root. */
export function stepLine(step: DemoStep): string {
  return `${c.cyan('$')} ${c.bold(['ptg', ...step.args].join(' '))}`;
}

export function stepResultLines(result: StepResult): string[] {
  const lines = result.output ? result.output.split('\n').map((l) => `  ${l}`) : [];
  const took = seconds(result.durationMs);
  if (isSignalExit(result.exitCode)) lines.push(`${sym.fail} interrupted after ${took}.`);
  else if (!result.ok) lines.push(`${sym.fail} exit ${result.exitCode ?? '?'} after ${took}: not what the demo expects (${result.step.expect.join(' or ')}).`);
  else if (result.exitCode !== 0 && result.step.why) lines.push(c.dim(`  (exit ${result.exitCode} after ${took}, as expected: ${result.step.why})`));
  else lines.push(c.dim(`  (${took})`));
  lines.push('');
  return lines;
}

export function finalLines(result: DemoResult): string[] {
  if (isSignalExit(result.failed?.exitCode)) {
    return [`${sym.fail} Demo interrupted. What it made so far is in ${result.paths.dir}; \`ptg demo\` again starts it afresh.`];
  }
  if (result.failed) {
    const { claude } = result;
    return [
      `${sym.fail} The demo stopped at \`ptg ${result.failed.step.args.join(' ')}\`; its output is above.`,
      `  Everything it made is in ${result.paths.dir}. If this looks like a bug in ptg, please report it with the output above.`,
      // The script is written against the pinned claude; another version may ask or answer differently.
      ...(claude.source === 'path' && claude.version !== claude.pinnedVersion
        ? [`  The demo ran Claude Code ${claude.version} from PATH; its script is written for ${claude.pinnedVersion}: say so in the report.`]
        : []),
    ];
  }
  const lines = [`${sym.ok} Demo done in ${seconds(result.durationMs)}: ${result.steps.length} ptg commands, ${result.modelRequests} answers from the scripted model (no real model was called).`, ''];
  for (const r of result.reports) {
    lines.push(`  ${c.bold(r.version)} summary  ${r.summaryMd}`);
    lines.push(`     report   ${r.reportHtml}`);
  }
  if (result.comparison) {
    lines.push(`  ${c.bold('v1 vs v2')} ${result.comparison.md}`);
    lines.push(`           ${result.comparison.html}`);
  }
  lines.push('');
  lines.push(`Open a report.html in a browser; \`ptg runs --root ${result.paths.root}\` lists the two runs.`);
  return lines;
}
