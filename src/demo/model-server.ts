// A scripted stand-in for the Anthropic Messages API, so the real Claude Code CLI can run
// offline: the end-to-end tests and `ptg demo` point claude at it with ANTHROPIC_BASE_URL.
// It listens on 127.0.0.1 only. Facts about how claude talks to it: test/support/NOTES-claude.md.
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

export type Step =
  | { write: { path: string; content: string } } // Write tool_use; path relative to the agent's cwd
  | { bash: string } // Bash tool_use
  | { text: string } // plain text answer, stop_reason end_turn
  | { error: number; message?: string } // HTTP error in Anthropic's error format
  | { stall: true }; // never answer; the connection is held until close()

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

export interface Script {
  /** Matched against the first user message's text (substring or RegExp). No match = catch-all. */
  match?: string | RegExp;
  steps: Step[];
  /** Usage reported on every answer of this script (default: opts.usage). */
  usage?: Usage;
  /** Text of the answer after the last step (default: opts.finalText). */
  final?: string;
}

/** What is known about a conversation when it starts; given to a function-form script. */
export interface ConversationInfo {
  cwd: string | undefined;
  firstUserText: string;
  /** Text of the last user message: what a resumed session (`claude --resume`) is asked now. */
  lastUserText: string;
  body: any;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  /** A /v1/messages call that does not offer the Write tool (title, summary...): never advances a script. */
  side: boolean;
  /** From "Primary working directory: <cwd>" in the system prompt, if found. */
  cwd?: string;
  /** Text of the first user message, all its text blocks joined by "\n". */
  firstUserText?: string;
  /** Index (0-based) of the step this request was answered with; steps.length = the final text. */
  step?: number;
  /** What the server answered: 'write', 'bash', 'text', 'final', 'error', 'stall', 'side', 'other'. */
  reply: string;
}

export interface ModelServerOptions {
  /** Usage on every main answer unless the script has its own. Default {input_tokens: 100, output_tokens: 10}. */
  usage?: Usage;
  /** Usage on side answers. Default {input_tokens: 10, output_tokens: 1}. */
  sideUsage?: Usage;
  /** Text after the last step. Default 'Done.' */
  finalText?: string;
  /** Text of side answers. Default 'Scripted title'. */
  sideText?: string;
}

export interface ModelServer {
  /** http://127.0.0.1:<port>, for ANTHROPIC_BASE_URL. */
  url: string;
  requests: RecordedRequest[];
  /** Main (non-side) /v1/messages requests whose cwd is `cwd`. */
  conversation(cwd: string): RecordedRequest[];
  /** Ends stalled connections and stops the server. */
  close(): Promise<void>;
}

interface Conversation {
  steps: Step[];
  next: number;
  usage: Usage;
  final: string;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

/**
 * Starts the server on 127.0.0.1 and a free port.
 *
 * A conversation is one turn of one claude session working in one directory: a
 * session resumed with a new question (`claude --resume`, which keeps the session
 * id and resends the history) is a new one. Its script is
 * chosen once, on its first request, by the first user message's text (the first
 * Script whose `match` fits; one without `match` fits all; none fits = no steps), or
 * by a function of the conversation that returns its steps or its whole Script.
 * Every later main request of that conversation (claude returning a tool_result,
 * or retrying after an error) gets the next step; after the last step it gets the
 * final text with end_turn. A `text` step also ends the turn, so with `claude -p`
 * the steps after it are never asked for. Requests that do not offer the Write
 * tool are side requests: answered with `sideText`, never advancing a script.
 */
export async function startModelServer(
  scripts: Script[] | ((info: ConversationInfo) => Step[] | Omit<Script, 'match'>),
  opts: ModelServerOptions = {},
): Promise<ModelServer> {
  const state: ServerState = {
    scripts,
    usage: opts.usage ?? { input_tokens: 100, output_tokens: 10 },
    sideUsage: opts.sideUsage ?? { input_tokens: 10, output_tokens: 1 },
    finalText: opts.finalText ?? 'Done.',
    sideText: opts.sideText ?? 'Scripted title',
    conversations: new Map(),
    counter: 0,
  };
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec = record(req, Buffer.concat(chunks).toString('utf8'));
      requests.push(rec);
      route(state, req, res, rec);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    conversation: (cwd) => requests.filter((r) => !r.side && r.cwd === cwd && r.step !== undefined),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // includes stalled requests and idle keep-alives
      }),
  };
}

/** What every conversation of one server shares: the scripts, the defaults, the ids dealt out. */
interface ServerState {
  scripts: Script[] | ((info: ConversationInfo) => Step[] | Omit<Script, 'match'>);
  usage: Usage;
  sideUsage: Usage;
  finalText: string;
  sideText: string;
  conversations: Map<string, Conversation>;
  counter: number;
}

function record(req: http.IncomingMessage, raw: string): RecordedRequest {
  let body: any = null;
  try {
    body = raw ? JSON.parse(raw) : null;
  } catch {
    body = raw;
  }
  return { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, side: false, reply: 'other' };
}

function route(state: ServerState, req: http.IncomingMessage, res: http.ServerResponse, rec: RecordedRequest): void {
  const pathname = (req.url ?? '').split('?')[0];
  if (req.method === 'POST' && pathname === '/v1/messages' && rec.body && typeof rec.body === 'object') return answerMessages(state, req, res, rec);
  if (req.method === 'POST' && pathname === '/v1/messages/count_tokens') {
    // Deterministic and cheap; claude only uses it for context-size estimates.
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end(JSON.stringify({ input_tokens: state.usage.input_tokens }));
  }
  if (req.method === 'HEAD' || (req.method === 'GET' && pathname === '/')) {
    // claude probes HEAD / for connectivity before the first call.
    res.writeHead(200);
    return void res.end();
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `No route ${pathname}` } }));
}

/** A Messages API call: a side request answered at once, a main one with its conversation's next step. */
function answerMessages(state: ServerState, req: http.IncomingMessage, res: http.ServerResponse, rec: RecordedRequest): void {
  const body = rec.body;
  rec.cwd = findCwd(body);
  rec.firstUserText = firstUserText(body);
  rec.side = !(body.tools ?? []).some((t: any) => t?.name === 'Write');
  if (rec.side) {
    rec.reply = 'side';
    return void sendMessage(res, body, [{ type: 'text', text: state.sideText }], 'end_turn', state.sideUsage, ++state.counter);
  }
  // claude sends one session id per process; with the cwd it keeps parallel
  // runs apart and makes a re-run in the same directory start the script afresh.
  // A resumed session sends the same id: the answers it already has in its history tell its turns apart.
  const key = `${rec.cwd ?? ''}\u0000${req.headers['x-claude-code-session-id'] ?? ''}\u0000${finishedTurns(body)}`;
  let conv = state.conversations.get(key);
  if (!conv) {
    conv = startConversation(state, { cwd: rec.cwd, firstUserText: rec.firstUserText, lastUserText: lastUserText(body), body });
    state.conversations.set(key, conv);
  }
  // Every main request takes the next step, errors and stalls included, so a
  // retry after an error step gets the step after it.
  const i = conv.next++;
  rec.step = Math.min(i, conv.steps.length);
  answerStep(res, rec, conv, conv.steps[i], ++state.counter);
}

function answerStep(res: http.ServerResponse, rec: RecordedRequest, conv: Conversation, step: Step | undefined, id: number): void {
  const body = rec.body;
  if (!step) {
    rec.reply = 'final';
    return void sendMessage(res, body, [{ type: 'text', text: conv.final }], 'end_turn', conv.usage, id);
  }
  if ('stall' in step) {
    rec.reply = 'stall';
    return; // close() ends it
  }
  if ('error' in step) {
    rec.reply = 'error';
    const type = ERROR_TYPES[step.error] ?? 'api_error';
    res.writeHead(step.error, { 'content-type': 'application/json', 'request-id': `req_scripted_${id}` });
    res.end(JSON.stringify({ type: 'error', error: { type, message: step.message ?? `Scripted ${step.error}` } }));
    return;
  }
  if ('text' in step) {
    rec.reply = 'text';
    return void sendMessage(res, body, [{ type: 'text', text: step.text }], 'end_turn', conv.usage, id);
  }
  if ('write' in step) {
    rec.reply = 'write';
    const filePath = path.resolve(rec.cwd ?? process.cwd(), step.write.path);
    const input = { file_path: filePath, content: step.write.content };
    return void sendMessage(res, body, [toolUse(id, 'Write', input)], 'tool_use', conv.usage, id);
  }
  rec.reply = 'bash';
  const input = { command: step.bash, description: 'Run scripted command' };
  return void sendMessage(res, body, [toolUse(id, 'Bash', input)], 'tool_use', conv.usage, id);
}

function startConversation(state: ServerState, info: ConversationInfo): Conversation {
  const { scripts } = state;
  if (typeof scripts === 'function') {
    const chosen = scripts(info);
    const script = Array.isArray(chosen) ? { steps: chosen } : chosen;
    return { steps: script.steps, next: 0, usage: script.usage ?? state.usage, final: script.final ?? state.finalText };
  }
  const script = scripts.find((s) => (s.match === undefined ? true : typeof s.match === 'string' ? info.firstUserText.includes(s.match) : s.match.test(info.firstUserText)));
  return { steps: script?.steps ?? [], next: 0, usage: script?.usage ?? state.usage, final: script?.final ?? state.finalText };
}

function toolUse(id: number, name: string, input: object) {
  return { type: 'tool_use', id: `toolu_scripted_${id}`, name, input };
}

function sendMessage(
  res: http.ServerResponse,
  body: any,
  content: any[],
  stopReason: 'end_turn' | 'tool_use',
  usage: Usage,
  id: number,
) {
  const fullUsage = { cache_creation_input_tokens: 0, cache_read_input_tokens: 0, ...usage };
  const message = {
    id: `msg_scripted_${id}`,
    type: 'message',
    role: 'assistant',
    model: body.model ?? 'claude-scripted',
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: fullUsage,
  };
  if (!body.stream) {
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_scripted_${id}` });
    return res.end(JSON.stringify(message));
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'request-id': `req_scripted_${id}`,
  });
  const event = (type: string, data: object) =>
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  // As the real API: message_start carries input usage, message_delta the final output count.
  event('message_start', {
    message: { ...message, content: [], stop_reason: null, usage: { ...fullUsage, output_tokens: 1 } },
  });
  content.forEach((block, index) => {
    if (block.type === 'text') {
      event('content_block_start', { index, content_block: { type: 'text', text: '' } });
      event('content_block_delta', { index, delta: { type: 'text_delta', text: block.text } });
    } else {
      event('content_block_start', { index, content_block: { ...block, input: {} } });
      const json = JSON.stringify(block.input);
      // Two chunks, so the client's partial-JSON assembly is exercised.
      const cut = Math.floor(json.length / 2);
      event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(0, cut) } });
      event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(cut) } });
    }
    event('content_block_stop', { index });
  });
  event('message_delta', {
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: usage.output_tokens },
  });
  event('message_stop', {});
  res.end();
}

/**
 * What to add to an environment so that the real claude talks to this server and nothing else:
 * the server's URL, a throw-away home for claude's config and sessions, and none of the user's
 * Claude settings (a real key, Bedrock, a proxy) that could send it elsewhere. Values that are
 * `undefined` remove a variable (Node's spawn skips them). Facts behind each: NOTES-claude.md.
 */
export function offlineClaudeEnv(serverUrl: string, home: string, base: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const noProxy = ['127.0.0.1', 'localhost', base.NO_PROXY ?? base.no_proxy].filter(Boolean).join(',');
  return {
    ANTHROPIC_BASE_URL: serverUrl,
    ANTHROPIC_API_KEY: 'demo',
    ANTHROPIC_AUTH_TOKEN: undefined,
    // The user's own claude may run the demo: its login stays out of it too.
    CLAUDE_CODE_OAUTH_TOKEN: undefined,
    ANTHROPIC_MODEL: undefined,
    ANTHROPIC_SMALL_FAST_MODEL: undefined,
    ANTHROPIC_CUSTOM_HEADERS: undefined,
    CLAUDE_CODE_USE_BEDROCK: undefined,
    CLAUDE_CODE_USE_VERTEX: undefined,
    // Offline: no telemetry, update checks or error reports; API errors end a run at once.
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    CLAUDE_CODE_MAX_RETRIES: '0',
    // claude keeps sessions and settings here, not in the user's ~/.claude.
    CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
    HOME: home,
    // As root, claude refuses --dangerously-skip-permissions unless told it runs in a sandbox.
    IS_SANDBOX: process.getuid?.() === 0 ? '1' : undefined,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    // ptg's own: the agent is named with --agent, and a scripted run writes no CI step summary.
    PTG_AGENT: undefined,
    GITHUB_STEP_SUMMARY: undefined,
  };
}

/** Text of all blocks of a system prompt or message content (string or block array). */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((b) => b && b.type === 'text' && typeof b.text === 'string')
    .map((b) => b.text)
    .join('\n');
}

/**
 * The agent's cwd. 2.1.197 puts the environment block in the top-level `system`;
 * newer versions (2.1.331) put it in a role 'system' message inside `messages`.
 */
export function findCwd(body: any): string | undefined {
  const texts = [textOf(body?.system)];
  for (const m of body?.messages ?? []) if (m?.role === 'system') texts.push(textOf(m.content));
  for (const t of texts) {
    const m = /Primary working directory: (.+)/.exec(t);
    if (m) return m[1].trim();
  }
  return undefined;
}

/** Text blocks of the last user message (its tool results aside). */
export function lastUserText(body: any): string {
  const last = (body?.messages ?? []).findLast((m: any) => m?.role === 'user');
  return last ? textOf(last.content) : '';
}

/** Answers in the history that ended a turn: an assistant message that calls no tool. */
function finishedTurns(body: any): number {
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
  return messages.filter((m) => m?.role === 'assistant' && !(Array.isArray(m.content) && m.content.some((b: any) => b?.type === 'tool_use'))).length;
}

/** All text blocks of the first user message; a slash command shows up here expanded. */
export function firstUserText(body: any): string {
  const first = (body?.messages ?? []).find((m: any) => m?.role === 'user');
  return first ? textOf(first.content) : '';
}
