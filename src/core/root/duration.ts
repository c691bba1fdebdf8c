import { UsageError } from '../../errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Node's timers hold at most 2^31 - 1 ms (24.8 days): a longer one fires at once. */
const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * "90s", "30m", "2h", "1.5h", "500ms" or a bare number of seconds -> milliseconds, at most
 * MAX_DURATION_MS. Written by hand: the grammar is four units, and a library would also accept "2 days ago".
 */
export function parseDuration(value: string | number, what = 'duration'): number {
  let ms: number;
  if (typeof value === 'number') ms = value * 1000;
  else {
    const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(value.trim());
    ms = match ? Number(match[1]) * UNITS[match[2] ?? 's']! : NaN;
    if (!(ms > 0)) throw new UsageError(`Invalid ${what} "${value}": use a number with a unit, like 90s, 30m or 2h.`);
  }
  if (ms > MAX_DURATION_MS) {
    const shown = typeof value === 'number' ? `${value}s` : value;
    throw new UsageError(`${what[0]!.toUpperCase()}${what.slice(1)} ${shown} is too long: at most 24 days.`);
  }
  return ms;
}

/** 75_000 -> "1m15s": short, for tables. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 9950) return `${(ms / 1000).toFixed(1).replace(/\.0$/, '')}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** An instant as this machine's wall clock, to the second: `2026-12-07 16:05:00`. */
export function formatClock(at: string | number | Date): string {
  const d = new Date(at);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
