// Claude Code's `--output-format stream-json`: one JSON event per line. This module turns a
// stream of chunks into running figures (turns, tokens, cost, the final result) and a readable
// transcript, holding no more than one line at a time.

export interface Tokens {
  input: number;
  output: number;
  cacheRead: number;
  cacheCreation: number;
}

export interface AgentResult {
  isError: boolean;
  /** The HTTP status of the API error that ended the session, where Claude Code gives it. */
  apiErrorStatus?: number;
  subtype?: string;
  text?: string;
  turns?: number;
  costUsd?: number;
  durationMs?: number;
  tokens?: Tokens;
  sessionId?: string;
}

export interface AgentFigures {
  model?: string;
  sessionId?: string;
  /** What the init event lists: the slash commands and skills the session loaded. */
  loaded?: { commands?: string[]; skills?: string[] };
  /** Claude Code's own version, from the init event. */
  agentVersion?: string;
  /** Assistant messages seen so far (the final result's num_turns replaces it). */
  turns: number;
  tokens: Tokens;
  costUsd?: number;
  result?: AgentResult;
  /** The last `rate_limit_event`: `rejected` with its reset (epoch seconds) is a usage limit reached. */
  rateLimit?: { status: string; resetsAt?: number; type?: string };
  /** Lines that were not JSON events: the agent does not speak stream-json, or also prints text. */
  otherLines: number;
  events: number;
}

type Json = Record<string, any>;

const ONE_LINE = 200;

function oneLine(text: unknown, max = ONE_LINE): string {
  const s = (typeof text === 'string' ? text : JSON.stringify(text) ?? '').replace(/\s+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function tokensOf(usage: Json | undefined): Tokens | undefined {
  if (!usage || typeof usage !== 'object') return undefined;
  return {
    input: Number(usage.input_tokens ?? 0),
    output: Number(usage.output_tokens ?? 0),
    cacheRead: Number(usage.cache_read_input_tokens ?? 0),
    cacheCreation: Number(usage.cache_creation_input_tokens ?? 0),
  };
}

function toolResultText(content: unknown): string {
  if (Array.isArray(content)) return content.map((c: Json) => (c?.type === 'text' ? c.text : `[${c?.type}]`)).join(' ');
  return String(content ?? '');
}

/** Incremental parser: feed chunks, get transcript text back, read `figures` at any time. */
export class StreamJsonParser {
  readonly figures: AgentFigures = { turns: 0, tokens: { input: 0, output: 0, cacheRead: 0, cacheCreation: 0 }, otherLines: 0, events: 0 };
  private partial = '';
  private readonly messageUsage = new Map<string, Tokens>();
  private lastText = '';

  /** Takes the next chunk of output; returns the transcript lines it completes. */
  feed(chunk: string): string {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    let out = '';
    for (const line of lines) out += this.line(line);
    return out;
  }

  /** Flushes a last line that had no newline. */
  end(): string {
    const rest = this.partial;
    this.partial = '';
    return rest ? this.line(rest) : '';
  }

  private line(raw: string): string {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return '';
    let event: Json;
    try {
      event = line.trimStart().startsWith('{') ? JSON.parse(line) : undefined;
    } catch {
      event = undefined as unknown as Json;
    }
    if (!event || typeof event !== 'object' || typeof event.type !== 'string') {
      this.figures.otherLines += 1;
      return `${line}\n`;
    }
    this.figures.events += 1;
    return this.event(event);
  }

  private event(e: Json): string {
    switch (e.type) {
      case 'system':
        return e.subtype === 'init' ? this.init(e) : `[system] ${oneLine(e.subtype ?? '')}\n`;
      case 'assistant':
        return this.assistant(e.message ?? {});
      case 'user': {
        let out = '';
        for (const block of Array.isArray(e.message?.content) ? e.message.content : []) {
          if (block.type === 'tool_result') out += `${block.is_error ? '← error:' : '←'} ${oneLine(toolResultText(block.content))}\n`;
        }
        return out;
      }
      case 'result':
        return this.result(e);
      case 'rate_limit_event': {
        const info = e.rate_limit_info ?? {};
        this.figures.rateLimit = { status: String(info.status ?? '?'), resetsAt: typeof info.resetsAt === 'number' ? info.resetsAt : undefined, type: info.rateLimitType };
        return info.status === 'rejected' ? `[rate limit] rejected · ${info.rateLimitType ?? '?'}\n` : '';
      }
      default:
        return '';
    }
  }

  /** The session's start: model, session id, what it loaded. */
  private init(e: Json): string {
    const f = this.figures;
    f.model = e.model;
    f.sessionId = e.session_id;
    const names = (list: unknown) => (Array.isArray(list) ? list.map(String) : undefined);
    f.loaded = { commands: names(e.slash_commands), skills: names(e.skills) };
    if (typeof e.claude_code_version === 'string') f.agentVersion = e.claude_code_version;
    return `[init] model ${e.model ?? '?'} · session ${e.session_id ?? '?'} · cwd ${e.cwd ?? '?'} · ${Array.isArray(e.tools) ? e.tools.length : 0} tools\n`;
  }

  /** A block of the model's answer: a turn counted once per message, its usage once per message id. */
  private assistant(message: Json): string {
    const f = this.figures;
    const id = String(message.id ?? f.events);
    if (!this.messageUsage.has(id)) f.turns += 1;
    const usage = tokensOf(message.usage);
    if (usage) {
      // Claude Code repeats a message's usage on every content block of it: count it once.
      const old = this.messageUsage.get(id);
      for (const k of Object.keys(usage) as (keyof Tokens)[]) f.tokens[k] += usage[k] - (old?.[k] ?? 0);
      this.messageUsage.set(id, usage);
    } else if (!this.messageUsage.has(id)) this.messageUsage.set(id, { input: 0, output: 0, cacheRead: 0, cacheCreation: 0 });
    let out = '';
    for (const block of Array.isArray(message.content) ? message.content : []) {
      if (block.type === 'text' && block.text) {
        this.lastText = block.text.trimEnd();
        out += `${this.lastText}\n`;
      } else if (block.type === 'tool_use') out += `→ ${block.name} ${oneLine(block.input)}\n`;
      else if (block.type === 'thinking') out += `(thinking) ${oneLine(block.thinking)}\n`;
    }
    return out;
  }

  /** The session's end: its totals are the ones to trust. */
  private result(e: Json): string {
    const f = this.figures;
    const result: AgentResult = {
      isError: Boolean(e.is_error),
      apiErrorStatus: typeof e.api_error_status === 'number' ? e.api_error_status : undefined,
      subtype: e.subtype,
      text: typeof e.result === 'string' ? e.result : undefined,
      turns: typeof e.num_turns === 'number' ? e.num_turns : undefined,
      costUsd: typeof e.total_cost_usd === 'number' ? e.total_cost_usd : undefined,
      durationMs: typeof e.duration_ms === 'number' ? e.duration_ms : undefined,
      tokens: tokensOf(e.usage),
      sessionId: e.session_id,
    };
    f.result = result;
    if (result.turns !== undefined) f.turns = result.turns;
    if (result.tokens) f.tokens = result.tokens;
    if (result.costUsd !== undefined) f.costUsd = result.costUsd;
    const head = `[result] ${result.isError ? 'error' : 'success'}${result.subtype && result.subtype !== 'success' ? ` (${result.subtype})` : ''} · ${f.turns} turns · $${(f.costUsd ?? 0).toFixed(4)}`;
    // The result repeats the last answer: print it only when it says something new.
    const text = result.text?.trimEnd();
    return `${head}\n${text && text !== this.lastText ? `${text}\n` : ''}`;
  }
}

const TRANSIENT = new Set([429, 500, 502, 503, 529]);

/**
 * A result that ended on an API error worth trying again: rate limited, overloaded, a server
 * error. Claude Code says so in `api_error_status`, or only in its text (`API Error: 529 ...`).
 */
export function transientError(result: AgentResult | undefined): string | undefined {
  if (!result?.isError) return undefined;
  const status = result.apiErrorStatus ?? Number(/API Error: (\d{3})\b/.exec(result.text ?? '')?.[1]);
  if (TRANSIENT.has(status)) return `API error ${status}`;
  if (/overloaded_error/.test(result.text ?? '')) return 'API error: overloaded';
  return undefined;
}
