// `ptg show`: a transcript as terminal lines, colours where the terminal has them.
import { formatDuration } from '../core/root/duration.js';
import type { Transcript } from '../core/reports/transcript.js';
import { money } from './run.js';
import { c, table } from './style.js';

const RESULT_LINES = 3;

/** Turn by turn: the assistant's text, each tool call and the first lines of its result, the end. */
export function transcriptLines(t: Transcript): string[] {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const e of t.entries) {
    if (e.kind === 'init') lines.push(c.dim(`[init] model ${e.model ?? '?'} · session ${e.sessionId ?? '?'} · ${e.tools} tools`));
    else if (e.kind === 'text') {
      const tokens = e.tokens && e.messageId && !seen.has(e.messageId) ? c.dim(` (${e.tokens.input} in, ${e.tokens.output} out)`) : '';
      if (e.messageId) seen.add(e.messageId);
      lines.push('', `${e.text}${tokens}`);
    } else if (e.kind === 'tool') {
      lines.push(c.cyan(`→ ${e.tool}${e.arg ? ` ${e.arg}` : ''}`));
      if (e.result !== undefined) {
        const result = e.result.split('\n');
        const shown = result.slice(0, RESULT_LINES).map((l) => `  ${e.isError ? c.red(`← ${l}`) : c.dim(`← ${l}`)}`);
        lines.push(...shown);
        if (result.length > RESULT_LINES) lines.push(c.dim(`  … ${result.length - RESULT_LINES} more lines`));
      }
    } else {
      const head = `[result] ${e.isError ? 'error' : 'success'}${e.subtype && e.subtype !== 'success' ? ` (${e.subtype})` : ''} · ${e.turns ?? '?'} turns · ${money(e.costUsd)} · ${formatDuration(e.durationMs)}`;
      lines.push('', e.isError ? c.red(head) : c.green(head));
      if (e.text) lines.push(e.text);
    }
  }
  if (!t.entries.some((e) => e.kind === 'result')) lines.push('', c.yellow('(no result yet: the agent is still running, or ended without one)'));
  return lines;
}

/** `--tools`: calls per tool, files read and written, commands run, the first error. */
export function toolSummaryLines(t: Transcript): string[] {
  const s = t.summary;
  const counts = Object.entries(s.tools).sort((a, b) => b[1] - a[1]);
  const lines = counts.length ? table(counts.map(([tool, n]) => [tool, String(n)]), ['Tool', 'Calls']) : ['No tool calls.'];
  const list = (title: string, items: string[]) => (items.length ? ['', c.bold(title), ...items.map((i) => `  ${i}`)] : []);
  lines.push(...list('Files read', s.filesRead), ...list('Files written', s.filesWritten), ...list('Commands run', s.commands));
  if (s.firstError) lines.push('', c.red(`First error: ${s.firstError}`));
  return lines;
}
