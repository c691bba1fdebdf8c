// Claude Code's usage limit: a subscription's 5-hour, session or weekly allowance, spent. Not a
// rate limit: fewer agents at once do not help, and nothing gets through until the reset it
// names. Its session ends on a result that says so, in one of two forms:
//   Claude AI usage limit reached|1749924000                         (the reset, epoch seconds)
//   You've hit your session limit · resets 12:50am (America/Los_Angeles)
//   5-hour limit reached ∙ resets 3pm · resets Dec 9, 5am (UTC) · resets in 2h 30m
// Newer versions also print a `rate_limit_event` whose `resetsAt` (epoch seconds) is exact.

export interface UsageLimit {
  /** The message's first line, as the agent printed it. */
  message: string;
  /** When the limit resets (ISO), where the agent said and it could be read. */
  resetsAt?: string;
}

const EPOCH = /usage limit reached\|(\d{9,13})/i;
const RESETS = /\blimit\b.*?\bresets?\s+(?:at\s+)?(.+)$/i;
const REACHED = /usage limit reached|limit reached|hit your (?:[\w-]+ )?limit/i;
/** A clock time only just past is this reset, the limit lifting late, not tomorrow's. */
const JUST_PAST_MS = 60 * 60_000;
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * The usage limit a session ended on, or undefined. `rejectedResetsAt`: the `resetsAt` of a
 * `rate_limit_event` whose status was `rejected`, which counts only for a result with is_error.
 * ("Context limit reached" and "API Error: Rate limit reached" name no reset: they are not one.)
 */
export function usageLimitOf(result: { isError: boolean; text?: string } | undefined, rejectedResetsAt?: number, now = Date.now()): UsageLimit | undefined {
  if (!result) return undefined;
  const message = (result.text ?? '').trim().split('\n')[0]!.trim();
  const epoch = EPOCH.exec(message);
  if (epoch) return { message, resetsAt: new Date(Number(epoch[1]) * (epoch[1]!.length > 11 ? 1 : 1000)).toISOString() };
  const said = REACHED.test(message) && (RESETS.test(message) || /usage limit/i.test(message));
  const rejected = result.isError && rejectedResetsAt !== undefined;
  if (!said && !rejected) return undefined;
  const at = rejected ? rejectedResetsAt * 1000 : resetTime(RESETS.exec(message)?.[1], now);
  return { message: message || 'usage limit (rate_limit_event: rejected)', resetsAt: at === undefined ? undefined : new Date(at).toISOString() };
}

/** `3pm`, `12:50am (America/Los_Angeles)`, `Dec 9, 5am (UTC)`, `in 2h 30m` -> epoch ms; undefined when unreadable. */
export function resetTime(text: string | undefined, now = Date.now()): number | undefined {
  if (!text) return undefined;
  const zone = /\(([^)]+)\)/.exec(text)?.[1]?.trim();
  const when = text.replace(/\([^)]*\)/g, '').replace(/[\s.·∙]+$/, '').trim();
  const after = /^in\s+(?:(\d+)\s*d\w*)?\s*(?:(\d+)\s*h\w*)?\s*(?:(\d+)\s*m\w*)?$/i.exec(when);
  if (after && (after[1] || after[2] || after[3])) return now + ((Number(after[1] ?? 0) * 24 + Number(after[2] ?? 0)) * 60 + Number(after[3] ?? 0)) * 60_000;
  const clock = /^(?:([a-z]{3})[a-z]*\.?\s+(\d{1,2}),?\s*(?:at\s+)?)?(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\.?$/i.exec(when);
  if (!clock) return undefined;
  const [, monthName, dayText, hourText, minuteText, half] = clock;
  const hour = (Number(hourText) % 12) + (half!.toLowerCase() === 'p' ? 12 : 0);
  const minute = Number(minuteText ?? 0);
  const today = wallClock(now, zone);
  if (!today) return undefined;
  const month = monthName ? MONTHS.indexOf(monthName.toLowerCase()) : today.month;
  if (month < 0) return undefined;
  const day = dayText ? Number(dayText) : today.day;
  const at = (year: number, d: number) => zoned(zone, year, month, d, hour, minute);
  const first = at(today.year, day);
  if (first >= now - JUST_PAST_MS) return first;
  // Past: a clock time is tomorrow's, a date next year's.
  return monthName ? at(today.year + 1, day) : at(today.year, day + 1);
}

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall clock of `zone` (this machine's when unset) at `at`; undefined for a zone Intl does not know. */
function wallClock(at: number, zone: string | undefined): Wall | undefined {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  } catch {
    return undefined;
  }
  const part = Object.fromEntries(format.formatToParts(at).map((p) => [p.type, Number(p.value)]));
  return { year: part.year!, month: part.month! - 1, day: part.day!, hour: part.hour!, minute: part.minute!, second: part.second! };
}

/** The instant a wall-clock time in `zone` names (corrected once more across a change of offset). */
function zoned(zone: string | undefined, year: number, month: number, day: number, hour: number, minute: number): number {
  const wanted = Date.UTC(year, month, day, hour, minute);
  const offset = (at: number) => {
    const w = wallClock(at, zone)!;
    return Date.UTC(w.year, w.month, w.day, w.hour, w.minute, w.second) - Math.floor(at / 1000) * 1000;
  };
  const guess = wanted - offset(wanted);
  return wanted - offset(guess);
}
