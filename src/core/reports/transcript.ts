// What an agent did, turn by turn, read from its claude.jsonl: the assistant's text, each tool
// call with its main argument and its result, tokens per turn, the final result. Streamed line by
// line, and every text kept short, so a transcript of hundreds of MB costs little memory.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';

/** Text kept per block: a transcript is for reading, the raw file has the rest. */
const KEEP = 2000;

export type TranscriptEntry =
  | { kind: 'init'; model?: string; sessionId?: string; tools: number }
  | { kind: 'text'; text: string; messageId?: string; tokens?: { input: number; output: number } }
  | { kind: 'tool'; id?: string; tool: string; arg?: string; result?: string; isError?: boolean }
  | { kind: 'result'; isError: boolean; subtype?: string; text?: string; turns?: number; costUsd?: number; durationMs?: number };

export interface TranscriptSummary {
  /** Tool calls per tool name. */
  tools: Record<string, number>;
  filesRead: string[];
  filesWritten: string[];
  commands: string[];
  firstError?: string;
}

export interface Transcript {
  entries: TranscriptEntry[];
  /** Set when the transcript was cut to stay small: the bytes of claude.jsonl read, of how many. */
  cut?: { readBytes: number; totalBytes: number };
  summary: TranscriptSummary;
  /** Lines that were not JSON events. */
  otherLines: number;
}

type Json = Record<string, any>;

const short = (text: string) => (text.length > KEEP ? `${text.slice(0, KEEP)}… (${text.length - KEEP} more characters in claude.jsonl)` : text);

/** The one argument that says what a tool call did: a path, a command, a pattern, a URL. */
export function mainArgument(input: Json | undefined): string | undefined {
  if (!input || typeof input !== 'object') return undefined;
  for (const key of ['file_path', 'path', 'notebook_path', 'command', 'pattern', 'url', 'query', 'description', 'prompt']) {
    if (typeof input[key] === 'string') return input[key].split('\n')[0]!.slice(0, 300);
  }
  return undefined;
}

function resultText(content: unknown): string {
  if (Array.isArray(content)) return content.map((c: Json) => (c?.type === 'text' ? String(c.text ?? '') : `[${c?.type}]`)).join('\n');
  return String(content ?? '');
}

/** Reads a claude.jsonl as far as it is written (an agent still running: what has arrived). */
export async function readTranscript(file: string, opts: { maxChars?: number } = {}): Promise<Transcript> {
  const { size: totalBytes } = await stat(file);
  let kept = 0;
  let readBytes = 0;
  let cut: Transcript['cut'];
  const page = new Page();
  const input = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    readBytes += Buffer.byteLength(line) + 1;
    kept += Math.min(line.length, KEEP * 2);
    if (opts.maxChars !== undefined && kept > opts.maxChars) {
      // A page for reading, not the raw file: stop here and say so (the summary counts what came before).
      cut = { readBytes, totalBytes };
      lines.close();
      input.destroy();
      break;
    }
    if (line.trim()) page.add(line);
  }
  const { summary } = page;
  for (const list of [summary.filesRead, summary.filesWritten, summary.commands]) list.splice(0, list.length, ...new Set(list));
  return { entries: page.entries, cut, summary, otherLines: page.otherLines };
}

/** The transcript as it is read, one event at a time: its entries, and the summary of its tools. */
class Page {
  readonly entries: TranscriptEntry[] = [];
  readonly summary: TranscriptSummary = { tools: {}, filesRead: [], filesWritten: [], commands: [] };
  otherLines = 0;
  private readonly calls = new Map<string, Extract<TranscriptEntry, { kind: 'tool' }>>();

  add(line: string): void {
    let e: Json;
    try {
      e = JSON.parse(line);
    } catch {
      this.otherLines += 1;
      return;
    }
    if (e?.type === 'system' && e.subtype === 'init') {
      this.entries.push({ kind: 'init', model: e.model, sessionId: e.session_id, tools: Array.isArray(e.tools) ? e.tools.length : 0 });
    } else if (e?.type === 'assistant') this.assistant(e.message);
    else if (e?.type === 'user') this.results(e.message);
    else if (e?.type === 'result') {
      const text = typeof e.result === 'string' ? short(e.result) : undefined;
      this.entries.push({ kind: 'result', isError: Boolean(e.is_error), subtype: e.subtype, text, turns: e.num_turns, costUsd: e.total_cost_usd, durationMs: e.duration_ms });
      if (e.is_error) this.summary.firstError ??= text ?? e.subtype;
    }
  }

  private assistant(message: Json): void {
    const usage = message?.usage;
    for (const block of Array.isArray(message?.content) ? message.content : []) {
      if (block.type === 'text' && block.text) {
        this.entries.push({ kind: 'text', text: short(block.text), messageId: message?.id, tokens: usage ? { input: Number(usage.input_tokens ?? 0), output: Number(usage.output_tokens ?? 0) } : undefined });
      } else if (block.type === 'tool_use') this.call(block);
    }
  }

  private call(block: Json): void {
    const call = { kind: 'tool' as const, id: block.id, tool: String(block.name), arg: mainArgument(block.input) };
    this.entries.push(call);
    if (block.id) this.calls.set(block.id, call);
    const { summary } = this;
    summary.tools[call.tool] = (summary.tools[call.tool] ?? 0) + 1;
    if (call.arg && /^(Read|NotebookRead)$/.test(call.tool)) summary.filesRead.push(call.arg);
    if (call.arg && /^(Write|Edit|MultiEdit|NotebookEdit)$/.test(call.tool)) summary.filesWritten.push(call.arg);
    if (call.arg && call.tool === 'Bash') summary.commands.push(call.arg);
  }

  private results(message: Json): void {
    for (const block of Array.isArray(message?.content) ? message.content : []) {
      if (block.type !== 'tool_result') continue;
      const call = this.calls.get(block.tool_use_id);
      const text = short(resultText(block.content));
      if (call) Object.assign(call, { result: text, isError: Boolean(block.is_error) });
      if (block.is_error) this.summary.firstError ??= `${call?.tool ?? 'tool'}: ${text.split('\n')[0]}`;
    }
  }
}
