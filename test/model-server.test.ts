// The scripted model server, first on its own over HTTP, then driving the real
// Claude Code CLI offline. The CLI part needs the binary: PTG_TEST_CLAUDE or
// node_modules/.bin/claude; without one it is skipped (with the reason shown).
// PTG_UPDATE_FIXTURES=1 rewrites test/fixtures/claude-<version>-{success,error}.jsonl
// from the real runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startModelServer, type Usage } from "./support/model-server.js";

const here = path.dirname(fileURLToPath(import.meta.url));

// ---------- the server alone ----------

/** Minimal request body as claude sends it: env block in `system`, Write offered or not. */
function body(opts: { cwd: string; user: string; tools?: string[]; stream?: boolean; extra?: any[] }) {
  return {
    model: "claude-opus-4-8",
    stream: opts.stream ?? true,
    system: [{ type: "text", text: `# Environment\n - Primary working directory: ${opts.cwd}\n - Platform: linux` }],
    messages: [{ role: "user", content: [{ type: "text", text: opts.user }] }, ...(opts.extra ?? [])],
    tools: (opts.tools ?? ["Bash", "Write"]).map((name) => ({ name, input_schema: {} })),
  };
}

async function post(url: string, b: unknown, headers: Record<string, string> = {}) {
  return fetch(`${url}/v1/messages?beta=true`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(b),
  });
}

/** Parses an SSE body into [event, data] pairs. */
function sse(text: string): [string, any][] {
  return text
    .split("\n\n")
    .filter((chunk) => chunk.trim())
    .map((chunk) => {
      const event = /^event: (.*)$/m.exec(chunk)![1];
      const data = JSON.parse(/^data: (.*)$/m.exec(chunk)![1]);
      return [event, data];
    });
}

test("model server speaks the Messages API and follows scripts", async (t) => {
  const server = await startModelServer(
    [
      { match: /STP-7\b/, steps: [{ write: { path: "out/a.txt", content: "A\n" } }, { bash: "ls" }] },
      { match: "boom", steps: [{ error: 529, message: "busy" }, { text: "after" }] },
      { match: "hang", steps: [{ stall: true }] },
    ],
    { usage: { input_tokens: 7, output_tokens: 3 } },
  );
  t.after(() => server.close());

  await t.test("stream: Write tool_use with absolute path, then Bash, then final text", async () => {
    const r1 = await post(server.url, body({ cwd: "/w/one", user: "do STP-7 now" }));
    assert.equal(r1.headers.get("content-type"), "text/event-stream");
    const events = sse(await r1.text());
    assert.deepEqual(
      events.map(([e]) => e),
      ["message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"],
    );
    const json = events.filter(([e]) => e === "content_block_delta").map(([, d]) => d.delta.partial_json).join("");
    assert.deepEqual(JSON.parse(json), { file_path: "/w/one/out/a.txt", content: "A\n" });
    assert.equal(events[1][1].content_block.name, "Write");
    const delta = events.find(([e]) => e === "message_delta")![1];
    assert.equal(delta.delta.stop_reason, "tool_use");
    assert.equal(delta.usage.output_tokens, 3);
    assert.equal(events[0][1].message.usage.input_tokens, 7);

    // A side request (no Write tool) in the same conversation must not advance it.
    const side = await post(server.url, body({ cwd: "/w/one", user: "Generate a title", tools: [] }));
    assert.match(sse(await side.text()).map(([, d]) => d.delta?.text ?? "").join(""), /title/i);

    // A parallel conversation in another cwd has its own position.
    const other = await post(server.url, body({ cwd: "/w/two", user: "STP-7 again" }), { "x-claude-code-session-id": "s2" });
    assert.equal(sse(await other.text())[1][1].content_block.name, "Write");

    const r2 = await post(server.url, body({ cwd: "/w/one", user: "do STP-7 now" }));
    const bash = sse(await r2.text());
    assert.equal(bash[1][1].content_block.name, "Bash");
    const r3 = await post(server.url, body({ cwd: "/w/one", user: "do STP-7 now", stream: false }));
    const final = await r3.json();
    assert.equal(final.stop_reason, "end_turn");
    assert.deepEqual(final.content, [{ type: "text", text: "Done." }]);
    assert.deepEqual(
      server.conversation("/w/one").map((r) => r.reply),
      ["write", "bash", "final"],
    );
    const sideRec = server.requests.find((r) => r.side)!;
    assert.equal(sideRec.cwd, "/w/one");
    assert.equal(sideRec.step, undefined);
  });

  await t.test("error step answers in Anthropic's error format and is consumed", async () => {
    const r = await post(server.url, body({ cwd: "/w/three", user: "boom" }));
    assert.equal(r.status, 529);
    assert.deepEqual(await r.json(), { type: "error", error: { type: "overloaded_error", message: "busy" } });
    const again = await post(server.url, body({ cwd: "/w/three", user: "boom", stream: false }));
    assert.equal((await again.json()).content[0].text, "after");
  });

  await t.test("cwd is also found in a role=system message (newer claude versions)", async () => {
    const b: any = body({ cwd: "ignored", user: "nothing matches" });
    b.system = [{ type: "text", text: "You are Claude." }];
    b.messages.push({ role: "system", content: [{ type: "text", text: " - Primary working directory: /w/new\n" }] });
    const r = await post(server.url, b, { "x-claude-code-session-id": "s4" });
    await r.text();
    assert.equal(server.requests.at(-1)!.cwd, "/w/new");
    assert.equal(server.requests.at(-1)!.reply, "final"); // no script matched: empty script
  });

  await t.test("other endpoints", async () => {
    const head = await fetch(server.url, { method: "HEAD" });
    assert.equal(head.status, 200);
    const count = await fetch(`${server.url}/v1/messages/count_tokens`, { method: "POST", body: "{}" });
    assert.deepEqual(await count.json(), { input_tokens: 7 });
    const missing = await fetch(`${server.url}/v1/nothing`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).type, "error");
  });

  await t.test("a stall holds the request until close()", async () => {
    const stalled = post(server.url, body({ cwd: "/w/hang", user: "hang" })).then(
      () => "answered",
      () => "closed",
    );
    while (!server.requests.some((r) => r.reply === "stall")) await new Promise((r) => setTimeout(r, 10));
    await server.close();
    assert.equal(await stalled, "closed");
  });
});

// ---------- the real claude ----------

const claudeBin = process.env.PTG_TEST_CLAUDE || path.resolve(here, "../node_modules/.bin/claude");

/** Version string, or why the binary cannot be used. */
function probeClaude(): { version?: string; why?: string } {
  if (!fs.existsSync(claudeBin)) return { why: `no claude binary at ${claudeBin} (set PTG_TEST_CLAUDE)` };
  const r = spawnSync(claudeBin, ["--version"], { encoding: "utf8", timeout: 20_000 });
  const m = /^(\d+\.\d+\.\d+)/.exec(r.stdout ?? "");
  if (r.status !== 0 || !m) return { why: `${claudeBin} --version failed: ${(r.stderr || r.stdout || "").trim()}` };
  return { version: m[1] };
}

/**
 * $ per million tokens as claude prices them: [input, output, cache write, cache read].
 * Measured by sending 1M tokens of one kind; keyed by model-name prefix.
 */
const PRICES: Record<string, [number, number, number, number]> = {
  "claude-opus-4-8": [5, 25, 6.25, 0.5], // 2.1.197's default model ("claude-opus-4-8[1m]")
  "claude-opus-5-5": [4, 20, 5, 0.2], // 2.1.331's default model
  "claude-sonnet-5": [3, 15, 3.75, 0.3],
  "claude-haiku-4-5": [1, 5, 1.25, 0.1],
};

function costOf(model: string, u: Required<Usage>): number {
  const key = Object.keys(PRICES).find((k) => model.startsWith(k));
  assert.ok(key, `no price known for model ${model}`);
  const [inp, out, write, read] = PRICES[key];
  return (
    (u.input_tokens * inp +
      u.output_tokens * out +
      u.cache_creation_input_tokens * write +
      u.cache_read_input_tokens * read) /
    1e6
  );
}

interface Run {
  child: ChildProcess;
  outFile: string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; ms: number }>;
}

/**
 * Starts `claude -p` in cwd with the prompt on stdin. stdout goes to a regular file:
 * 2.1.197 loses output through pipes. The env is built from scratch so nothing of the
 * caller's (API keys, CLAUDE_* settings, ~/.claude) leaks in.
 */
function startClaude(opts: { cwd: string; home: string; prompt: string; url: string; timeoutMs?: number }): Run {
  const promptFile = path.join(opts.home, "prompt.txt");
  fs.writeFileSync(promptFile, opts.prompt);
  const outFile = path.join(opts.home, "stdout.jsonl");
  const stdin = fs.openSync(promptFile, "r");
  const stdout = fs.openSync(outFile, "w");
  const started = Date.now();
  const child = spawn(
    claudeBin,
    ["-p", "--dangerously-skip-permissions", "--output-format", "stream-json", "--verbose"],
    {
      cwd: opts.cwd,
      stdio: [stdin, stdout, "pipe"],
      env: {
        PATH: process.env.PATH,
        HOME: opts.home,
        CLAUDE_CONFIG_DIR: path.join(opts.home, ".claude"), // sessions, .claude.json: not the user's
        ANTHROPIC_BASE_URL: opts.url,
        ANTHROPIC_API_KEY: "test",
        IS_SANDBOX: "1", // else --dangerously-skip-permissions refuses to run as root
        CLAUDE_CODE_MAX_RETRIES: "0", // an API error ends the run at once (default: 10 retries, backoff)
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1", // no telemetry, error reports, update checks
        DISABLE_TELEMETRY: "1",
        DISABLE_AUTOUPDATER: "1",
      },
    },
  );
  fs.closeSync(stdin);
  fs.closeSync(stdout);
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  // Never let a broken run hang the suite.
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; ms: number }>(
    (resolve) =>
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stderr, ms: Date.now() - started });
      }),
  );
  return { child, outFile, done };
}

function readEvents(file: string): any[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** A temp slot: a git repo with the slash command, plus a separate HOME. */
function makeSlot(root: string, name: string) {
  const cwd = path.join(root, name, "repo");
  const home = path.join(root, name, "home");
  fs.mkdirSync(path.join(cwd, ".claude", "commands"), { recursive: true });
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(
    path.join(cwd, ".claude", "commands", "v9-orchestrator.md"),
    "Generate tests for the plan.\n\nArguments: $ARGUMENTS\n",
  );
  const git = spawnSync("git", ["init", "-q"], { cwd });
  assert.equal(git.status, 0, String(git.stderr));
  return { cwd, home };
}

/** For fixtures: absolute temp paths become /tmp/slot/..., also in claude's dashed project-dir form. */
function scrub(text: string, root: string): string {
  const dashed = (p: string) => p.replace(/[^a-zA-Z0-9]/g, "-");
  return text.split(root).join("/tmp/slot").split(dashed(root)).join(dashed("/tmp/slot"));
}

test("real claude against the model server", async (t) => {
  const probe = probeClaude();
  if (!probe.version) {
    t.skip(probe.why);
    return;
  }
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "ptg-claude-")));
  const children: ChildProcess[] = [];
  t.after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    fs.rmSync(root, { recursive: true, force: true });
  });

  const usage: Required<Usage> = {
    input_tokens: 1000,
    output_tokens: 50,
    cache_creation_input_tokens: 300,
    cache_read_input_tokens: 2000,
  };
  const server = await startModelServer([
    {
      match: "STP file path: /x/1.md",
      usage,
      steps: [
        { write: { path: "tests/test_stp1.py", content: "def test_one():\n    assert True\n" } },
        { bash: "ls tests" },
      ],
      final: "Wrote tests/test_stp1.py.",
    },
    {
      match: "STP file path: /x/2.md",
      usage,
      steps: [{ write: { path: "partial.txt", content: "partial\n" } }, { error: 500, message: "scripted failure" }],
    },
    { match: "STP file path: /x/3.md", steps: [{ stall: true }] },
  ]);
  t.after(() => server.close());

  await t.test("success and 500 runs, in parallel, kept apart by cwd", async () => {
    const ok = makeSlot(root, "ok");
    const bad = makeSlot(root, "bad");
    const runOk = startClaude({ ...ok, url: server.url, prompt: "/v9-orchestrator STP file path: /x/1.md\n" });
    const runBad = startClaude({ ...bad, url: server.url, prompt: "/v9-orchestrator STP file path: /x/2.md\n" });
    children.push(runOk.child, runBad.child);
    const [exitOk, exitBad] = await Promise.all([runOk.done, runBad.done]);
    t.diagnostic(`claude ${probe.version}: success run ${exitOk.ms} ms, error run ${exitBad.ms} ms`);

    // --- success ---
    assert.equal(exitOk.code, 0, exitOk.stderr);
    assert.equal(
      fs.readFileSync(path.join(ok.cwd, "tests", "test_stp1.py"), "utf8"),
      "def test_one():\n    assert True\n",
    );
    const convOk = server.conversation(ok.cwd);
    assert.deepEqual(convOk.map((r) => r.reply), ["write", "bash", "final"]);
    // The slash command reached the model expanded, $ARGUMENTS substituted.
    const first = convOk[0].firstUserText!;
    assert.match(first, /Generate tests for the plan\.\s+Arguments: STP file path: \/x\/1\.md/);
    assert.doesNotMatch(first, /\$ARGUMENTS/);
    // The tool results came back to the server.
    assert.match(JSON.stringify(convOk[1].body.messages.at(-1)), /File created successfully/);
    assert.match(JSON.stringify(convOk[2].body.messages.at(-1)), /test_stp1\.py/);

    const events = readEvents(runOk.outFile);
    const init = events.find((e) => e.type === "system" && e.subtype === "init");
    assert.equal(init.cwd, ok.cwd);
    const result = events.at(-1);
    assert.equal(result.type, "result");
    assert.equal(result.is_error, false);
    assert.equal(result.result, "Wrote tests/test_stp1.py.");
    assert.equal(result.num_turns, 3); // one per model answer
    assert.equal(result.usage.input_tokens, 3 * usage.input_tokens);
    assert.equal(result.usage.output_tokens, 3 * usage.output_tokens); // from message_delta
    assert.equal(result.usage.cache_read_input_tokens, 3 * usage.cache_read_input_tokens);
    assert.equal(result.usage.cache_creation_input_tokens, 3 * usage.cache_creation_input_tokens);
    // Cost is priced by the model claude asked for (init.model, e.g. claude-opus-4-8[1m]),
    // not by the model named in the response.
    const expected = 3 * costOf(init.model, usage);
    assert.ok(Math.abs(result.total_cost_usd - expected) < 1e-9, `${result.total_cost_usd} != ${expected}`);
    assert.deepEqual(Object.keys(result.modelUsage), [init.model]);

    // --- 500 ---
    assert.notEqual(exitBad.code, 0);
    assert.ok(fs.existsSync(path.join(bad.cwd, "partial.txt")));
    assert.deepEqual(server.conversation(bad.cwd).map((r) => r.reply), ["write", "error"]);
    const badResult = readEvents(runBad.outFile).at(-1);
    assert.equal(badResult.type, "result");
    assert.equal(badResult.is_error, true);
    assert.equal(badResult.subtype, "success"); // sic: 2.1.197 says "success" with is_error true
    assert.equal(badResult.api_error_status, 500);
    assert.match(badResult.result, /500 scripted failure/);
    assert.equal(badResult.num_turns, 2);
    // The answer before the error is still counted.
    assert.ok(Math.abs(badResult.total_cost_usd - costOf(init.model, usage)) < 1e-9);

    assert.ok(server.requests.every((r) => !r.side), "2.1.197 -p sends no side requests");

    if (process.env.PTG_UPDATE_FIXTURES) {
      const dir = path.join(here, "fixtures");
      fs.mkdirSync(dir, { recursive: true });
      for (const [name, file] of [["success", runOk.outFile], ["error", runBad.outFile]]) {
        const target = path.join(dir, `claude-${probe.version}-${name}.jsonl`);
        fs.writeFileSync(target, scrub(fs.readFileSync(file, "utf8"), root));
        t.diagnostic(`wrote ${target}`);
      }
    }
  });

  await t.test("a stalled run can be killed", async () => {
    const slot = makeSlot(root, "stall");
    const run = startClaude({ ...slot, url: server.url, prompt: "/v9-orchestrator STP file path: /x/3.md\n" });
    children.push(run.child);
    const deadline = Date.now() + 30_000;
    while (!server.requests.some((r) => r.reply === "stall" && r.cwd === slot.cwd)) {
      assert.ok(Date.now() < deadline, "claude never reached the model");
      await new Promise((r) => setTimeout(r, 50));
    }
    const killedAt = Date.now();
    run.child.kill("SIGTERM");
    const escalate = setTimeout(() => run.child.kill("SIGKILL"), 5_000);
    const exit = await run.done;
    clearTimeout(escalate);
    // claude traps SIGTERM and exits 143 itself, without a result event.
    assert.ok(exit.code === 143 || exit.signal !== null, `exit ${exit.code} ${exit.signal}`);
    assert.ok(Date.now() - killedAt < 5_000, "SIGTERM was not enough");
    assert.ok(!readEvents(run.outFile).some((e) => e.type === "result"));
  });
});
