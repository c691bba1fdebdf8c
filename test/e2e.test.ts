// End to end: `ptg setup`, `ptg run` and `ptg collect` with the real Claude Code CLI (the pinned
// dev dependency, or PTG_TEST_CLAUDE) against the scripted model server, offline. Everything the
// tests assert about the agent's side comes from the server's request log: what claude really
// received, and what the "model" really sent back. Then `ptg demo`, the same with the bundled example.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import fs from 'fs-extra';
import { type ModelServer, offlineClaudeEnv, type RecordedRequest, startModelServer, type Step, type Usage } from '../src/demo/model-server.js';
import { prepareDir } from '../src/demo/demo.js';
import { isAlive, makeRoot, makeUpstream, PROJECT, ptg, runIdOf, tmpDir } from './support/fixtures.js';

const CLAUDE = process.env.PTG_TEST_CLAUDE || path.join(PROJECT, 'node_modules', '.bin', 'claude');
const noClaude = fs.existsSync(CLAUDE) ? false : `no claude binary at ${CLAUDE}: run \`npm install\` (@anthropic-ai/claude-code is a dev dependency) or set PTG_TEST_CLAUDE`;
/** In a clone the demo uses the package's own claude, whatever PTG_TEST_CLAUDE says (test/install.test.ts: the one on PATH). */
const PACKAGE_CLAUDE = path.join(PROJECT, 'node_modules', '.bin', 'claude');
const noPackageClaude = fs.existsSync(PACKAGE_CLAUDE) ? false : `no claude binary at ${PACKAGE_CLAUDE}: run \`npm install\` (@anthropic-ai/claude-code is a dev dependency)`;

const GOOD_PY = 'def test_one() -> None:\n    assert 1 + 1 == 2\n';
const BAD_PY = 'def test_two() -> None:\n    x: int = "not an int"\n    assert x\n';
const V2_PY = 'def test_orchestrated() -> None:\n    assert [1, 2][-1] == 2\n';

/** Different usage per STP, so a figure that lands in the wrong row shows. */
const USAGE: Record<string, Required<Usage>> = {
  '1': { input_tokens: 1000, output_tokens: 50, cache_creation_input_tokens: 300, cache_read_input_tokens: 2000 },
  '2': { input_tokens: 1500, output_tokens: 70, cache_creation_input_tokens: 0, cache_read_input_tokens: 4000 },
  '3': { input_tokens: 800, output_tokens: 30, cache_creation_input_tokens: 100, cache_read_input_tokens: 0 },
  '4': { input_tokens: 10, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
};

/** What the "model" does, per version and STP. STP 4 stalls whatever the version. */
function stepsFor(version: 'v1' | 'v2', stp: string): Step[] {
  if (stp === '4') return [{ stall: true }];
  if (version === 'v2') return [{ write: { path: `tests/virt/test_stp${stp}_v2.py`, content: V2_PY } }];
  // The last step reaches for a sibling slot's file: the sandbox shows claude none (issue 19).
  if (stp === '1') return [{ write: { path: 'tests/virt/test_stp1.py', content: GOOD_PY } }, { bash: 'ls tests/virt' }, { bash: 'cat ../2-upstream/README.md' }];
  if (stp === '2') return [{ write: { path: 'tests/virt/test_stp2.py', content: BAD_PY } }];
  return [{ write: { path: 'tests/virt/partial.py', content: 'x = 1\n' } }, { error: 500, message: 'scripted failure' }];
}

/**
 * $ per million tokens as claude 2.1.197 prices them (NOTES-claude.md, measured):
 * input, output, cache write, cache read; keyed by the model claude asks for.
 */
const PRICES: Record<string, [number, number, number, number]> = {
  'claude-opus-4-8': [5, 25, 6.25, 0.5],
  'claude-opus-5-5': [4, 20, 5, 0.2],
  'claude-sonnet-5': [3, 15, 3.75, 0.3],
  'claude-haiku-4-5': [1, 5, 1.25, 0.1],
};

function costOf(model: string, u: Required<Usage>): number {
  const key = Object.keys(PRICES).find((k) => model.startsWith(k));
  assert.ok(key, `no price known for model ${model}: add it to PRICES (measure it as NOTES-claude.md says)`);
  const [input, output, write, read] = PRICES[key]!;
  return (u.input_tokens * input + u.output_tokens * output + u.cache_creation_input_tokens * write + u.cache_read_input_tokens * read) / 1e6;
}

/** Pids of live processes whose working directory is inside `dir` (Linux /proc; elsewhere none are seen). */
function processesIn(dir: string): number[] {
  if (!fs.existsSync('/proc/self/cwd')) return [];
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
        return (cwd === dir || cwd.startsWith(`${dir}/`)) && isAlive(Number(pid));
      } catch {
        return false; // gone, or not ours to read
      }
    })
    .map(Number);
}

describe('end to end: ptg with the real claude against the scripted model', { skip: noClaude }, () => {
  let server: ModelServer;
  let dir: string;
  let root: string;
  let ws: string;
  let env: NodeJS.ProcessEnv;
  const slot = (stp: string) => path.join(ws, `${stp}-upstream`);
  const stpFile = (stp: string) => path.join(root, 'stps', `${stp}.md`);
  const expDir = (stp: string, version: string, runId: string) => path.join(ws, 'experiments', `${version}_experiment_${runId}`, path.basename(slot(stp)));
  const status = (stp: string, version: string, runId: string) => fs.readJsonSync(path.join(expDir(stp, version, runId), 'status.json'));

  /** The question `ptg handoff --print` asks in the resumed session of v1's STP 1. */
  const QUESTION = 'HANDOFF: which test file did you write?';
  const handedOff = (r: RecordedRequest) => JSON.stringify(r.body?.messages ?? []).includes(QUESTION);

  /** The main requests of one claude process: the one in `stp`'s slot whose first message matches (a handoff's resumed session aside). */
  function conversation(stp: string, firstMessage: string): RecordedRequest[] {
    const requests = server.requests.filter((r) => !r.side && r.cwd === slot(stp) && r.firstUserText?.includes(firstMessage) && !handedOff(r));
    const sessions = new Set(requests.map((r) => r.headers['x-claude-code-session-id']));
    assert.equal(sessions.size, 1, `one claude process for STP ${stp} (${firstMessage}), saw ${sessions.size}`);
    return requests;
  }

  /** Turns, tokens and cost as the server dealt them out: every request is a turn; errors cost nothing. */
  function served(requests: RecordedRequest[], stp: string) {
    const answered = requests.filter((r) => ['write', 'bash', 'text', 'final'].includes(r.reply));
    const u = USAGE[stp]!;
    return {
      turns: requests.length,
      tokens: {
        input: answered.length * u.input_tokens,
        output: answered.length * u.output_tokens,
        cacheRead: answered.length * u.cache_read_input_tokens,
        cacheCreation: answered.length * u.cache_creation_input_tokens,
      },
      costUsd: answered.reduce((sum, r) => sum + costOf(String(r.body.model), u), 0),
    };
  }

  let v1: { id: string; code: number | null };
  let v2: { id: string; code: number | null };
  let stalled: { id: string; code: number | null; ms: number };
  let v21: { id: string; code: number | null };
  const MODELS = ['claude-sonnet-5', 'claude-haiku-4-5'];
  const SECRET = 'e2e-secret-DO-NOT-WRITE-31337';

  before(async () => {
    dir = fs.realpathSync(tmpDir('ptg-e2e-')); // claude reports its cwd with symlinks resolved
    const upstream = makeUpstream(dir);
    root = makeRoot(dir, {
      stps: { '1': '# STP 1\nVM reset: $HOME stays "as is".\n', '2': '# STP 2\nVM migration.\n', '3': '# STP 3\nSnapshots.\n', '4': '# STP 4\nHot plug.\n' },
    });
    ws = path.join(root, 'parallel');
    fs.outputFileSync(path.join(root, 'v2.1', 'orchestrator.md'), 'Orchestrate the tests for $ARGUMENTS\n');
    fs.outputFileSync(path.join(root, 'v2.1', 'skills', 'heal', 'SKILL.md'), '---\nname: v2.1-heal\ndescription: Heal pyright errors in generated tests.\n---\n# heal\n');
    server = await startModelServer((info) => {
      // The handoff's question: the "model" looks at the slot, through claude's Bash tool.
      if (info.lastUserText.includes(QUESTION)) return { steps: [{ bash: 'cat tests/virt/test_stp1.py; ls tests/virt' }], usage: USAGE['1'], final: 'I wrote tests/virt/test_stp1.py.' };
      const stp = /stps\/(\d+)\.md/.exec(info.firstUserText)?.[1] ?? '?';
      const version = info.firstUserText.includes('/v2-orchestrator') ? 'v2' : 'v1';
      // v2.1 on STP 1: the run with two models, whose agent prints a secret through its Bash tool.
      if (info.firstUserText.includes('/v2.1-orchestrator') && stp === '1') {
        return { steps: [{ bash: 'echo "token=$PTG_E2E_TOKEN"' }, { write: { path: 'tests/virt/test_models.py', content: GOOD_PY } }], usage: USAGE[stp], final: 'Done.' };
      }
      return { steps: stepsFor(version, stp), usage: USAGE[stp], final: `Done with STP ${stp} (${version}).` };
    });
    const home = path.join(dir, 'claude-home');
    fs.ensureDirSync(home);
    env = offlineClaudeEnv(server.url, home);
    const setup = await ptg(['setup', '--repo', upstream, '--no-python'], { cwd: root, env });
    assert.equal(setup.code, 0, setup.stdout + setup.stderr);

    // The stall runs beside the v1 run (other slot, so no lock conflict); v2 after v1 (same slots).
    // The stall is cut when claude has printed nothing for 8 s: the clock starts again with its
    // init event, so a slow cold start of claude (seconds on a fresh machine) does not race it.
    const started = Date.now();
    const [a, c] = await Promise.all([
      ptg(['run', 'v1', '--stp', '1,2,3', '--agent', CLAUDE], { cwd: root, env }),
      ptg(['run', 'v1', '--stp', '4', '--idle-timeout', '8s', '--agent', CLAUDE], { cwd: root, env }).then((r) => ({ ...r, ms: Date.now() - started })),
    ]);
    v1 = { id: runIdOf(a.stdout), code: a.code };
    stalled = { id: runIdOf(c.stdout), code: c.code, ms: c.ms };
    const b = await ptg(['run', 'v2', '--stp', '1,2,3', '--agent', CLAUDE], { cwd: root, env });
    v2 = { id: runIdOf(b.stdout), code: b.code };
    // Under an allow-list (issue 31): claude reaches its model API through ptg's proxy, the one host added.
    const d = await ptg(['run', 'v2.1', '--stp', '2', '--network', 'pypi.org', '--agent', CLAUDE], { cwd: root, env });
    v21 = { id: runIdOf(d.stdout), code: d.code };
    const m = await ptg(['run', 'v2.1', '--stp', '1', '--model', MODELS.join(','), '--env', `PTG_E2E_TOKEN=${SECRET}`, '--run-id', 'models', '--agent', CLAUDE], { cwd: root, env });
    assert.equal(m.code, 0, m.stdout + m.stderr);
    for (const [version, id] of [['v1', v1.id], ['v2', v2.id], ['v1', stalled.id]] as const) {
      const r = await ptg(['collect', version, id], { cwd: root, env });
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
  });

  after(async () => {
    await server?.close();
    if (dir) await fs.remove(dir);
  });

  const summary = (version: string, id: string) => fs.readJsonSync(path.join(ws, `results_${version}_${id}`, 'summary.json'));
  const results = (version: string, id: string, file: string) => fs.readFileSync(path.join(ws, `results_${version}_${id}`, file), 'utf8');

  test('monolithic v1: every agent received prompt.md with its STP in it, byte for byte', () => {
    assert.equal(v1.code, 1, 'STP 3 fails, so the run exits 1');
    for (const stp of ['1', '2', '3']) {
      const [first] = conversation(stp, 'Write pytest tests for this plan:');
      const stpText = fs.readFileSync(stpFile(stp), 'utf8');
      assert.ok(first!.firstUserText!.includes(`Write pytest tests for this plan:\n${stpText}`), `STP ${stp}: ${first!.firstUserText}`);
      assert.ok(first!.firstUserText!.includes(`STP File: ${stpFile(stp)}`));
      assert.doesNotMatch(first!.firstUserText!, /\$\{STP_CONTENT\}/);
      assert.equal(fs.readFileSync(path.join(expDir(stp, 'v1', v1.id), 'prompt.md'), 'utf8'), `Write pytest tests for this plan:\n${stpText}\nSTP File: ${stpFile(stp)}\n`);
    }
  });

  test('orchestrated v2: every agent received the expanded orchestrator, $ARGUMENTS filled in', () => {
    assert.equal(v2.code, 0);
    for (const stp of ['1', '2', '3']) {
      const [first] = conversation(stp, '/v2-orchestrator');
      assert.match(first!.firstUserText!, /<command-name>\/v2-orchestrator<\/command-name>/);
      assert.ok(first!.firstUserText!.includes(`Orchestrate for STP file path: ${stpFile(stp)}`), `STP ${stp}: ${first!.firstUserText}`);
      assert.doesNotMatch(first!.firstUserText!, /\$ARGUMENTS/);
      assert.equal(status(stp, 'v2', v2.id).state, 'succeeded');
    }
    assert.deepEqual(summary('v2', v2.id).experiments.map((e: any) => e.testFiles), [1, 2, 3].map((n) => [`tests/virt/test_stp${n}_v2.py`]));
  });

  test('generated files land in changes.patch, the results folder and the report', () => {
    const one = expDir('1', 'v1', v1.id);
    const patch = fs.readFileSync(path.join(one, 'changes.patch'), 'utf8');
    assert.match(patch, /\+\+\+ b\/tests\/virt\/test_stp1\.py\n@@ .* @@\n\+def test_one\(\) -> None:\n\+    assert 1 \+ 1 == 2\n/);
    assert.doesNotMatch(patch, /\.claude\/|_experiment_/);
    // The Bash step ran in the slot and its output went back to the model.
    const [, afterBash] = conversation('1', 'Write pytest tests for this plan:').filter((r) => r.step! >= 1);
    assert.match(JSON.stringify(afterBash!.body.messages.at(-1)), /test_stp1\.py/);

    const report = summary('v1', v1.id);
    assert.deepEqual(report.experiments.map((e: any) => [e.stp, e.status, e.testFiles, e.pyright?.errors, e.checks.pyright.passed]), [
      ['1', 'succeeded', ['tests/virt/test_stp1.py'], 0, true],
      ['2', 'succeeded', ['tests/virt/test_stp2.py'], 1, false],
      ['3', 'failed', [], 0, true],
    ]);
    assert.deepEqual(report.experiments[2].changedFiles, [{ status: 'A', path: 'tests/virt/partial.py' }], 'work done before the error is kept');
    assert.equal(results('v1', v1.id, 'stp_1/files/tests/virt/test_stp1.py'), GOOD_PY);
    assert.match(results('v1', v1.id, 'summary.md'), /^\| 2 \| succeeded \| tests\/virt\/test_stp2\.py \| ✗ 1 \|/m);
    assert.match(results('v1', v1.id, 'report.html'), /<code>tests\/virt\/test_stp1\.py<\/code>/);
  });

  test("a 500 from the model is a failed experiment with the model's error in status.json and the report", () => {
    const s = status('3', 'v1', v1.id);
    assert.equal(s.state, 'failed');
    assert.equal(s.exitCode, 1);
    assert.match(s.agentError, /^API Error: 500 scripted failure\b/);
    assert.deepEqual(conversation('3', 'Write pytest tests').map((r) => r.reply), ['write', 'error']);
    const row = summary('v1', v1.id).experiments[2];
    assert.equal(row.agentError, s.agentError);
    assert.ok(results('v1', v1.id, 'summary.md').includes(`Agent error: ${s.agentError}`));
    assert.match(results('v1', v1.id, 'report.html'), /Agent error: API Error: 500 scripted failure/);
    assert.match(results('v1', v1.id, 'junit.xml'), /<failure message="failed \(exit 1\)" type="failed">[^<]*API Error: 500 scripted failure/);
  });

  test('a stalled model is cut by --idle-timeout 8s, and no claude process is left', () => {
    assert.equal(stalled.code, 1);
    assert.ok(server.requests.some((r) => r.reply === 'stall' && r.cwd === slot('4')), 'claude reached the model before the timeout');
    const s = status('4', 'v1', stalled.id);
    assert.equal(s.state, 'timed_out');
    assert.equal(s.stopReason, 'idle');
    assert.equal(fs.readFileSync(path.join(expDir('4', 'v1', stalled.id), 'status.txt'), 'utf8'), '[STP 4] ✗ Timed out: no output for 8s\n');
    assert.ok(s.durationMs >= 8000, `duration ${s.durationMs} ms`);
    assert.equal(isAlive(s.pid), false, `claude (pid ${s.pid}) outlived the timeout`);
    assert.deepEqual(processesIn(slot('4')), [], 'a process still works in the stalled slot');
    assert.equal(summary('v1', stalled.id).experiments[0].status, 'timed_out');
    assert.match(results('v1', stalled.id, 'summary.md'), /^\| 4 \| timed out \|/m);
  });

  test("a slot with v1, v2 and v2.1 installed: claude's init event lists v2.1's command and skill and no other version's", () => {
    const init = fs
      .readFileSync(path.join(expDir('2', 'v2.1', v21.id), 'claude.jsonl'), 'utf8')
      .split('\n')
      .map((line) => (line.startsWith('{') ? JSON.parse(line) : {}))
      .find((e) => e.type === 'system' && e.subtype === 'init');
    assert.ok(init, 'claude printed its init event');
    assert.ok(init.slash_commands.includes('v2.1-orchestrator'), init.slash_commands.join(', '));
    assert.ok(init.skills.includes('v2.1-heal'), init.skills.join(', '));
    const others = [...init.slash_commands, ...init.skills].filter((n: string) => /^v(1|2)-/.test(n));
    assert.deepEqual(others, [], 'no other version is offered to the model');
    const s = status('2', 'v2.1', v21.id);
    assert.deepEqual(s.loaded.skills.filter((n: string) => /^v\d/.test(n)), ['v2.1-heal']);
    assert.ok(fs.existsSync(path.join(slot('2'), '.claude/commands/v1-unified-prompt.md')), 'the other versions are back after the run');
  });

  test('two models: the server is asked for each by name; a secret claude echoed through Bash is masked everywhere', () => {
    const asked = server.requests.filter((r) => !r.side && r.cwd === slot('1') && r.firstUserText?.includes('/v2.1-orchestrator'));
    assert.deepEqual([...new Set(asked.map((r) => String(r.body.model)))].sort(), [...MODELS].sort());
    for (const model of MODELS) {
      const s = fs.readJsonSync(path.join(ws, 'experiments', `v2.1_experiment_models_${model}`, '1-upstream', 'status.json'));
      assert.equal(s.requestedModel, model);
      assert.ok(s.model.startsWith(model), `claude reported ${s.model}`);
      assert.equal(s.state, 'succeeded', s.agentError);
      assert.ok(s.masked.some((m: { file: string; name: string }) => m.file === 'claude.jsonl' && m.name === 'PTG_E2E_TOKEN'), JSON.stringify(s.masked));
    }
    const grep = spawnSync('grep', ['-rl', '--', SECRET, ws], { encoding: 'utf8' });
    assert.equal(grep.status, 1, `the secret is in: ${grep.stdout}`);
  });

  test("handoff --print: claude resumes v1's session on STP 1 with the earlier conversation, in the slot that holds the file it wrote", async () => {
    // Slot 1 holds what v2.1's last experiment left there by now, not v1's test file.
    assert.ok(!fs.existsSync(path.join(slot('1'), 'tests/virt/test_stp1.py')));
    const r = await ptg(['handoff', 'v1', v1.id, '--stp', '1', '--print', QUESTION], { cwd: root, env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'I wrote tests/virt/test_stp1.py.\n', 'the answer alone on stdout');

    const asked = server.requests.filter((r) => !r.side && handedOff(r));
    assert.deepEqual(asked.map((q) => q.reply), ['bash', 'final']);
    const sessionId = status('1', 'v1', v1.id).sessionId;
    assert.ok(asked.every((q) => q.headers['x-claude-code-session-id'] === sessionId), 'the session of the run, resumed');
    // The earlier conversation comes first: the run's prompt, the Write and Bash calls and their results, its answer.
    const history = JSON.stringify(asked[0]!.body.messages);
    const stpText = fs.readFileSync(stpFile('1'), 'utf8');
    assert.ok(asked[0]!.firstUserText!.includes(`Write pytest tests for this plan:\n${stpText}`), asked[0]!.firstUserText);
    assert.match(history, /"name":"Write","input":\{"file_path":"[^"]*\/1-upstream\/tests\/virt\/test_stp1\.py"/);
    assert.match(history, /"name":"Bash","input":\{"command":"ls tests\/virt"/);
    assert.ok(history.includes('Done with STP 1 (v1).'), "the run's final answer");
    assert.ok(history.indexOf('Done with STP 1 (v1).') < history.indexOf(QUESTION), 'then the question');
    // While claude ran, the slot held the file v1's agent wrote, and none of v2.1's.
    const result = JSON.stringify(asked[1]!.body.messages.at(-1));
    assert.ok(result.includes(JSON.stringify(GOOD_PY).slice(1, -1)), result);
    assert.doesNotMatch(result, /test_models\.py/);
    assert.equal(fs.readFileSync(path.join(slot('1'), 'tests/virt/test_stp1.py'), 'utf8'), GOOD_PY, 'the file stays after');
  });

  test("the sandbox: claude's Bash tool cannot read a sibling slot, and its test still lands", () => {
    const s = status('1', 'v1', v1.id);
    assert.equal(s.sandbox.kind, 'bwrap', 'bubblewrap is installed where the tests run (.ci/run)');
    assert.equal(s.state, 'succeeded');
    const afterCat = conversation('1', 'Write pytest tests for this plan:').find((r) => r.step === 3);
    const result = JSON.stringify(afterCat!.body.messages.at(-1));
    assert.match(result, /"is_error":true/, result);
    assert.match(result, /No such file or directory/, result);
    assert.doesNotMatch(result, /# target/, "the sibling's README never reached the model");
    assert.match(fs.readFileSync(path.join(expDir('1', 'v1', v1.id), 'changes.patch'), 'utf8'), /\+\+\+ b\/tests\/virt\/test_stp1\.py/);
    const transcript = fs.readFileSync(path.join(expDir('1', 'v1', v1.id), 'claude.jsonl'), 'utf8');
    assert.match(transcript, /cat \.\.\/2-upstream\/README\.md/);
    assert.match(transcript, /No such file or directory/);
  });

  test('under --network pypi.org, claude works through the proxy with its API host added, and status.json says so', () => {
    assert.equal(v21.code, 0);
    const s = status('2', 'v2.1', v21.id);
    assert.equal(s.state, 'succeeded');
    assert.deepEqual(s.sandbox.network, ['pypi.org', new URL(server.url).host]);
    assert.ok(server.requests.some((r) => r.cwd === slot('2') && r.firstUserText?.includes('/v2.1-orchestrator')));
  });

  test('cost, turns and tokens in the report are exactly what the server sent', () => {
    for (const [version, id, first] of [['v1', v1.id, 'Write pytest tests'], ['v2', v2.id, '/v2-orchestrator']] as const) {
      const report = summary(version, id);
      let cost = 0;
      let turns = 0;
      for (const row of report.experiments) {
        const expected = served(conversation(row.stp, first), row.stp);
        assert.equal(row.turns, expected.turns, `${version} STP ${row.stp} turns`);
        assert.deepEqual(row.tokens, expected.tokens, `${version} STP ${row.stp} tokens`);
        assert.ok(Math.abs(row.costUsd - expected.costUsd) < 1e-9, `${version} STP ${row.stp}: cost ${row.costUsd}, server sent ${expected.costUsd}`);
        // Formatted from the report's own figure: the server's sum may sit on the other side of a half cent.
        const money = `$${row.costUsd.toFixed(4)}`;
        assert.match(results(version, id, 'summary.md'), new RegExp(`^\\| ${row.stp} \\|.*\\| ${expected.turns} \\| \\${money} \\|$`, 'm'));
        cost += expected.costUsd;
        turns += expected.turns;
      }
      assert.ok(Math.abs(report.totals.costUsd - cost) < 1e-6, `${version} total ${report.totals.costUsd} vs ${cost}`);
      assert.equal(report.totals.turns, turns);
      assert.ok(cost > 0);
    }
    // The report names the model claude asked the server for (init.model may add a suffix such as "[1m]").
    const asked = String(conversation('1', 'Write pytest tests')[0]!.body.model);
    assert.ok(summary('v1', v1.id).model.startsWith(asked), `${summary('v1', v1.id).model} vs ${asked}`);
  });
});

/** Runs the built `demoCommand` in a child process (the way `ptg demo` calls it), output captured. */
function runDemo(dir: string): Promise<{ code: number | null; output: string; ms: number }> {
  const entry = pathToFileURL(path.join(PROJECT, 'dist', 'commands', 'demo.js')).href;
  const script = `const { demoCommand } = await import(${JSON.stringify(entry)}); process.exitCode = await demoCommand({ args: [${JSON.stringify(dir)}] });`;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output, ms: Date.now() - started }));
  });
}

describe('ptg demo', { skip: noPackageClaude }, () => {
  test('runs the whole pipeline on the bundled example, says the model is scripted, and ends with the reports', async (t) => {
    const dir = path.join(fs.realpathSync(tmpDir('ptg-demo-test-')), 'demo');
    t.after(() => fs.remove(path.dirname(dir)));
    const r = await runDemo(dir);
    t.diagnostic(`demo took ${r.ms} ms`);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /The model is scripted\./);
    assert.match(r.output, /No real model is called, nothing leaves this machine/);
    assert.match(r.output, new RegExp(`^  claude +\\d+\\.\\d+\\.\\d+, pinned with ptg: ${PACKAGE_CLAUDE}$`, 'm'));
    const reports = [...r.output.matchAll(/^ +(?:\S+ +)?(?:summary|report) +(\S+\/(summary\.md|report\.html))$/gm)].map((m) => m[1]!);
    assert.equal(reports.length, 4, r.output);
    for (const file of reports) assert.ok(fs.existsSync(file), `${file} is missing`);

    const ws = path.join(dir, 'root', 'parallel');
    const summaries = fs.readdirSync(ws).filter((n) => n.startsWith('results_')).sort().map((n) => fs.readJsonSync(path.join(ws, n, 'summary.json')));
    assert.deepEqual(summaries.map((s) => [s.version, s.totals.succeeded, s.totals.experiments, s.totals.pyrightErrors]), [['v1', 3, 4, 2], ['v2', 4, 4, 0]]);
    assert.match(summaries[0].experiments[3].agentError, /^API Error: 529 Overloaded/);
    assert.equal(fs.readdirSync(ws).filter((n) => n.startsWith('comparison_')).length, 2, 'comparison .md and .html');
    assert.ok(r.ms < 60_000, `the demo took ${r.ms} ms`);
  });

  test('refuses a folder that an earlier demo did not make, and replaces one that it did', async () => {
    const dir = tmpDir('ptg-demo-dir-');
    fs.writeFileSync(path.join(dir, 'precious.txt'), 'mine');
    await assert.rejects(prepareDir(dir), /exists and was not made by `ptg demo`/);
    assert.equal(fs.readFileSync(path.join(dir, 'precious.txt'), 'utf8'), 'mine');
    const demo = path.join(dir, 'demo');
    await prepareDir(demo);
    fs.writeFileSync(path.join(demo, 'old-run.txt'), '');
    await prepareDir(demo);
    assert.deepEqual(fs.readdirSync(demo), ['.ptg-demo']);
    await fs.remove(dir);
  });
});
