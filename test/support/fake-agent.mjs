#!/usr/bin/env node
// A stand-in for `claude -p --output-format stream-json`: reads the prompt on stdin, finds the
// STP file named in it, and does what the STP's `fake:` lines say. Prints events shaped like
// Claude Code's. Directives (one per line in the STP):
//   fake: write <path> <json string>   write a file (relative to the working directory)
//   fake: append <path> <json string>  append to a file (relative to the working directory)
//   fake: sleep <ms>                   wait before answering
//   fake: exit <code>                  exit with this code after the result
//   fake: error <message>              result with is_error: true, exit 0
//   fake: hang                         never end
//   fake: ignore-term                  ignore SIGTERM (only SIGKILL ends it)
//   fake: killed                       die of SIGKILL, as the OOM killer does
//   fake: grandchild                   start a `sleep 600` child and print its pid
//   fake: setsid                       start a `sleep 600` in a session of its own (it leaves the group)
//   fake: list-tree                    write every path under the working directory (hidden and
//                                      ignored ones too) to $FAKE_AGENT_RECORD/<folder>.tree.json
//   fake: leak <NAME>                  print $NAME's value (in its text, on stderr) and write it into
//                                      tests/test_leak.py and build/leak.log
//   fake: flaky <status>               the first time in this folder (per $FAKE_AGENT_RECORD): an API
//                                      error with that status and exit 1, as Claude Code ends; then fine
//   fake: linger                       print the result, then never exit (a known Claude Code hang)
//   fake: spam <MB>                    print this many MB of assistant events
//   fake: plain                        print plain text only, no JSON
//   fake: cost <usd> / fake: turns <n> figures for the result event
//   fake: try-read <path>              read a file (`~/` is $HOME; else relative to the working
//   fake: try-write <path>             directory) / write one, and append `read <path>: ok` or
//                                      `…: <error code>` to sandbox-attempts.txt there
//   fake: fetch <url>                  curl it (the proxy variables apply) and append `fetch <url>: <HTTP
//                                      status>` or `…: curl exit <n>` to sandbox-attempts.txt
//   fake: capacity <n>                 the model API serves n agents at once (tokens in
//                                      $FAKE_AGENT_CAPACITY_DIR, logged in served.log/refused.log there):
//                                      past that, a 429 result and exit 1, before any work
//   fake: usage-limit <s> [clock]      a usage limit that resets <s> seconds after the first agent met it
//                                      (its epoch in $FAKE_AGENT_LIMIT_DIR/resets-at; `lifted` there ends it
//                                      early): until then Claude Code's result `Claude AI usage limit
//                                      reached|<epoch>` (with `clock`: `You've hit your session limit ·
//                                      resets 4:05pm (UTC)`) and exit 1, logged in limited.log; after it,
//                                      served (served.log: `<stp> <epoch ms>`)
// Env: FAKE_AGENT_SLEEP_MS (default sleep), FAKE_AGENT_RECORD (folder: received prompt and argv),
// FAKE_AGENT_HIDE_COMMANDS (list no project command in the init event), FAKE_AGENT_RECORD_ENV
// (comma-separated names whose values go to <folder>.env.json in FAKE_AGENT_RECORD).
// With CLAUDE_CONFIG_DIR set it keeps each session where Claude Code does (paths under 200
// characters): $CLAUDE_CONFIG_DIR/projects/<cwd, every character but letters and digits as ->/<id>.jsonl.
// `--resume <id>` (ptg handoff): refuses, as Claude Code does, a session it does not keep; else
// writes to $FAKE_AGENT_RECORD/<folder>.resume.json its argv, cwd, the question it read on stdin
// (with -p), the environment's names and every file under its cwd (.git aside) with its content;
// then prints `Answer to: <question>` (-p) or `Resumed <id>`, and exits with
// $FAKE_AGENT_RESUME_EXIT (default 0). FAKE_AGENT_RESUME_WRITE=<path>: first appends a line to that
// file; FAKE_AGENT_RESUME_HANG=1: then waits until ended.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

if (process.argv.includes('--version')) {
  console.log('0.0.1 (fake agent)');
  process.exit(0);
}
const cwd = process.cwd();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
  const rel = path.relative(cwd, path.join(dir, e.name));
  if (rel === '.git') return [];
  return e.isDirectory() ? [`${rel}/`, ...walk(path.join(dir, e.name))] : [rel];
});
const sessionFile = (id) =>
  process.env.CLAUDE_CONFIG_DIR && path.join(process.env.CLAUDE_CONFIG_DIR, 'projects', fs.realpathSync(cwd).replace(/[^a-zA-Z0-9]/g, '-'), `${id}.jsonl`);

const resumeAt = process.argv.indexOf('--resume');
if (resumeAt >= 0) {
  const id = process.argv[resumeAt + 1];
  const print = process.argv.includes('-p');
  const question = print ? fs.readFileSync(0, 'utf8') : '';
  const kept = sessionFile(id);
  if (!kept || !fs.existsSync(kept)) {
    process.stderr.write(`No conversation found with session ID: ${id}\n`);
    process.exit(1);
  }
  if (process.env.FAKE_AGENT_RESUME_WRITE) fs.appendFileSync(path.join(cwd, process.env.FAKE_AGENT_RESUME_WRITE), 'written during the handoff\n');
  if (process.env.FAKE_AGENT_RECORD) {
    const files = Object.fromEntries(walk(cwd).filter((f) => !f.endsWith('/')).map((f) => [f, fs.readFileSync(path.join(cwd, f), 'utf8')]));
    const record = { pid: process.pid, argv: process.argv.slice(2), cwd, question, env: Object.keys(process.env).sort(), files };
    fs.mkdirSync(process.env.FAKE_AGENT_RECORD, { recursive: true });
    fs.writeFileSync(path.join(process.env.FAKE_AGENT_RECORD, `${path.basename(cwd)}.resume.json`), JSON.stringify(record));
  }
  if (process.env.FAKE_AGENT_RESUME_HANG) await sleep(1e9);
  process.stdout.write(print ? `Answer to: ${question}\n` : `Resumed ${id}\n`);
  process.exit(Number(process.env.FAKE_AGENT_RESUME_EXIT ?? 0));
}

const prompt = fs.readFileSync(0, 'utf8');
if (process.env.FAKE_AGENT_RECORD) {
  const base = path.join(process.env.FAKE_AGENT_RECORD, path.basename(cwd));
  fs.mkdirSync(process.env.FAKE_AGENT_RECORD, { recursive: true });
  fs.writeFileSync(`${base}.prompt`, prompt);
  fs.writeFileSync(`${base}.argv.json`, JSON.stringify(process.argv.slice(2)));
  const names = (process.env.FAKE_AGENT_RECORD_ENV ?? '').split(',').filter(Boolean);
  fs.writeFileSync(`${base}.env.json`, JSON.stringify(Object.fromEntries(names.map((n) => [n, process.env[n] ?? null]))));
}
const stpPath = /STP (?:File|file path): (.+)$/m.exec(prompt)?.[1]?.trim();
const stpText = stpPath && fs.existsSync(stpPath) ? fs.readFileSync(stpPath, 'utf8') : '';
const stpId = stpPath ? path.basename(stpPath, '.md') : 'x';
const directives = [...stpText.matchAll(/^fake: ([\w-]+) ?(.*)$/gm)].map((m) => ({ verb: m[1], arg: m[2] }));
const has = (verb) => directives.find((d) => d.verb === verb);

const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
// No pid in it: two runs of the same STP print the same transcript, as the merge test needs.
const session = `fake-session-${stpId}`;
const usage = { input_tokens: 1000, output_tokens: 200, cache_read_input_tokens: 50, cache_creation_input_tokens: 10 };

if (has('plain')) {
  console.log(`plain output for STP ${stpId}`);
  console.log('no JSON here');
  if (has('linger')) await sleep(1e9);
process.exit(Number(has('exit')?.arg ?? 0));
}

// Like Claude Code, list the project's commands and skills the session loaded.
const names = (dir, strip) => (fs.existsSync(dir) ? fs.readdirSync(dir).map((n) => n.replace(strip, '')) : []);
const projectCommands = process.env.FAKE_AGENT_HIDE_COMMANDS ? [] : names(path.join(cwd, '.claude', 'commands'), /\.md$/);
const skills = names(path.join(cwd, '.claude', 'skills'), '');
// Like Claude Code, the session runs on the model asked for with --model.
const modelArg = process.argv.indexOf('--model');
const model = modelArg > 0 ? process.argv[modelArg + 1] : 'fake-model-1';
emit({ type: 'system', subtype: 'init', cwd, session_id: session, model, tools: ['Write', 'Bash'], slash_commands: ['compact', 'cost', ...projectCommands, ...skills], skills });
const kept = sessionFile(session);
if (kept) {
  fs.mkdirSync(path.dirname(kept), { recursive: true });
  fs.writeFileSync(kept, `${JSON.stringify({ type: 'user', message: { role: 'user', content: prompt } })}\n`);
}
emit({ type: 'assistant', message: { id: 'msg_1', role: 'assistant', model: 'fake-model-1', content: [{ type: 'text', text: `Working on STP ${stpId}.` }], usage }, session_id: session });

// A model API that serves `capacity` agents at once (its tokens are folders in
// $FAKE_AGENT_CAPACITY_DIR, one per agent served): the rest get a 429, and end as Claude Code does.
const capacity = has('capacity');
if (capacity) {
  const dir = process.env.FAKE_AGENT_CAPACITY_DIR;
  const claim = (t) => {
    try {
      fs.mkdirSync(t);
      return true;
    } catch {
      return false;
    }
  };
  const token = [...Array(Number(capacity.arg)).keys()].map((i) => path.join(dir, `token-${i}`)).find(claim);
  fs.appendFileSync(path.join(dir, token ? 'served.log' : 'refused.log'), `${stpId}\n`);
  if (!token) {
    const text = 'API Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"Number of concurrent connections has exceeded your rate limit."}}';
    emit({ type: 'result', subtype: 'success', is_error: true, api_error_status: 429, duration_ms: 10, num_turns: 1, result: text, session_id: session, total_cost_usd: 0, usage });
    process.exit(1);
  }
  process.on('exit', () => fs.rmSync(token, { recursive: true, force: true }));
}

const limit = has('usage-limit');
if (limit) {
  const dir = process.env.FAKE_AGENT_LIMIT_DIR;
  const [seconds, form] = limit.arg.split(' ');
  const file = path.join(dir, 'resets-at');
  try {
    fs.writeFileSync(file, String(Math.ceil(Date.now() / 1000) + Number(seconds)), { flag: 'wx' });
  } catch {
    // Another agent met the limit first: its reset holds.
  }
  const resetsAt = Number(fs.readFileSync(file, 'utf8'));
  if (!fs.existsSync(path.join(dir, 'lifted')) && Date.now() < resetsAt * 1000) {
    fs.appendFileSync(path.join(dir, 'limited.log'), `${stpId} ${Date.now()}\n`);
    const at = new Date(Math.ceil(resetsAt / 60) * 60_000);
    const clock = `${at.getUTCHours() % 12 || 12}${at.getUTCMinutes() ? `:${String(at.getUTCMinutes()).padStart(2, '0')}` : ''}${at.getUTCHours() < 12 ? 'am' : 'pm'}`;
    const text = form === 'clock' ? `You've hit your session limit · resets ${clock} (UTC)` : `Claude AI usage limit reached|${resetsAt}`;
    emit({ type: 'result', subtype: 'success', is_error: true, api_error_status: 429, duration_ms: 10, num_turns: 1, result: text, session_id: session, total_cost_usd: 0, usage });
    process.exit(1);
  }
  fs.appendFileSync(path.join(dir, 'served.log'), `${stpId} ${Date.now()}\n`);
}

let turns = 1;
for (const d of directives) {
  if (d.verb === 'write') {
    const [, file, json] = /^(\S+) (.*)$/.exec(d.arg);
    fs.mkdirSync(path.dirname(path.join(cwd, file)), { recursive: true });
    fs.writeFileSync(path.join(cwd, file), JSON.parse(json));
    turns += 1;
    emit({ type: 'assistant', message: { id: `msg_${turns}`, role: 'assistant', content: [{ type: 'tool_use', id: `tu_${turns}`, name: 'Write', input: { file_path: path.join(cwd, file) } }], usage }, session_id: session });
    emit({ type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: `tu_${turns}`, content: 'File written' }] }, session_id: session });
  } else if (d.verb === 'append') {
    const [, file, json] = /^(\S+) (.*)$/.exec(d.arg);
    fs.appendFileSync(path.join(cwd, file), JSON.parse(json));
  } else if (d.verb === 'try-read' || d.verb === 'try-write') {
    const target = d.arg.startsWith('~/') ? path.join(process.env.HOME, d.arg.slice(2)) : path.resolve(cwd, d.arg);
    let outcome = 'ok';
    try {
      if (d.verb === 'try-read') fs.readFileSync(target);
      else fs.writeFileSync(target, 'written by the agent\n');
    } catch (error) {
      outcome = error.code ?? String(error);
    }
    fs.appendFileSync(path.join(cwd, 'sandbox-attempts.txt'), `${d.verb.slice(4)} ${d.arg}: ${outcome}\n`);
  } else if (d.verb === 'fetch') {
    const curl = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '30', d.arg], { encoding: 'utf8' });
    const outcome = curl.status === 0 ? curl.stdout.trim() : curl.error ? `curl ${curl.error.code}` : `curl exit ${curl.status}`;
    fs.appendFileSync(path.join(cwd, 'sandbox-attempts.txt'), `fetch ${d.arg}: ${outcome}\n`);
  } else if (d.verb === 'sleep') {
    await sleep(Number(d.arg));
  } else if (d.verb === 'grandchild') {
    const child = spawn('sleep', ['600'], { stdio: 'ignore' });
    emit({ type: 'assistant', message: { id: 'msg_gc', role: 'assistant', content: [{ type: 'text', text: `grandchild pid ${child.pid}` }], usage }, session_id: session });
  } else if (d.verb === 'setsid') {
    const child = spawn('sleep', ['600'], { stdio: 'ignore', detached: true });
    child.unref();
    emit({ type: 'assistant', message: { id: 'msg_setsid', role: 'assistant', content: [{ type: 'text', text: `setsid grandchild pid ${child.pid}` }], usage }, session_id: session });
  } else if (d.verb === 'list-tree') {
    fs.mkdirSync(process.env.FAKE_AGENT_RECORD, { recursive: true });
    fs.writeFileSync(path.join(process.env.FAKE_AGENT_RECORD, `${path.basename(cwd)}.tree.json`), JSON.stringify(walk(cwd)));
  } else if (d.verb === 'leak') {
    const value = process.env[d.arg] ?? '';
    emit({ type: 'assistant', message: { id: 'msg_leak', role: 'assistant', content: [{ type: 'text', text: `The token is ${value}.` }], usage }, session_id: session });
    process.stderr.write(`debug: ${d.arg}=${value}\n`);
    for (const file of ['tests/test_leak.py', 'build/leak.log']) {
      fs.mkdirSync(path.dirname(path.join(cwd, file)), { recursive: true });
      fs.writeFileSync(path.join(cwd, file), `TOKEN = "${value}"\n`);
    }
  } else if (d.verb === 'spam') {
    const line = `${JSON.stringify({ type: 'assistant', message: { id: 'msg_spam', role: 'assistant', content: [{ type: 'text', text: 'x'.repeat(4000) }], usage }, session_id: session })}\n`;
    const chunk = line.repeat(64);
    const total = Number(d.arg) * 1024 * 1024;
    for (let written = 0; written < total; written += chunk.length) {
      if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r));
    }
  }
}
if (process.env.FAKE_AGENT_SLEEP_MS) await sleep(Number(process.env.FAKE_AGENT_SLEEP_MS));
if (has('killed')) process.kill(process.pid, 'SIGKILL');
if (has('ignore-term')) process.on('SIGTERM', () => {});
if (has('hang')) await sleep(1e9);

let error = has('error');
const flaky = has('flaky');
if (flaky) {
  const flag = path.join(process.env.FAKE_AGENT_RECORD, `${path.basename(cwd)}.flaky`);
  if (!fs.existsSync(flag)) {
    fs.mkdirSync(process.env.FAKE_AGENT_RECORD, { recursive: true });
    fs.writeFileSync(flag, '');
    error = { arg: `${flaky.arg} Overloaded` };
  }
}
emit({
  type: 'result',
  subtype: 'success',
  is_error: Boolean(error),
  duration_ms: 1234,
  num_turns: Number(has('turns')?.arg ?? turns + 1),
  result: error ? `API Error: ${error.arg}` : `Done with STP ${stpId}.`,
  session_id: session,
  total_cost_usd: Number(has('cost')?.arg ?? 0.0125),
  usage,
  ...(error && /^\d{3}\b/.test(error.arg) ? { api_error_status: Number(error.arg.slice(0, 3)) } : {}),
});
if (error && flaky) process.exit(1);
if (has('linger')) await sleep(1e9);
process.exit(Number(has('exit')?.arg ?? 0));
