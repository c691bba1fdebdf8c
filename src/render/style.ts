import chalk, { Chalk } from 'chalk';

/** chalk, off when NO_COLOR is set or output is not a terminal. The only place colours are chosen. */
export const c: typeof chalk = process.env.NO_COLOR !== undefined ? new Chalk({ level: 0 }) : chalk;

export const sym = {
  ok: c.green('✓'),
  fail: c.red('✗'),
  run: c.cyan('…'),
  warn: c.yellow('!'),
};

/** Pads columns to the widest cell; ANSI colour codes do not count toward the width. */
export function table(rows: string[][], head?: string[]): string[] {
  const all = head ? [head, ...rows] : rows;
  const width = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths = all[0]?.map((_, i) => Math.max(...all.map((r) => width(r[i] ?? '')))) ?? [];
  const fmt = (r: string[]) => r.map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(widths[i]! - width(cell)))).join('  ').trimEnd();
  const lines = all.map(fmt);
  if (head) lines.splice(1, 0, c.dim(widths.map((w) => '─'.repeat(w)).join('  ')));
  if (head) lines[0] = c.bold(lines[0]!);
  return lines;
}
