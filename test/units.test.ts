import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseDuration, formatDuration } from '../src/core/root/duration.js';
import { statusLine } from '../src/core/workspace/experiment-folder.js';
import { buildPrompt } from '../src/core/root/prompt.js';
import { resolveRepo } from '../src/core/setup/setup.js';
import { compareIds } from '../src/core/root/root.js';
import { modelOf, timestampId, validateRunId } from '../src/core/run/run.js';
import { chooseAgent } from '../src/core/agent/agent.js';
import { nodeSatisfies } from '../src/core/setup/doctor.js';
import { StreamJsonParser } from '../src/io/streamjson.js';
import { tailLines } from '../src/io/files.js';
import { worktreeAndCommitTrees, worktreeTree } from '../src/io/git.js';
import { startProxy } from '../src/io/process/net-proxy.js';
import { AdaptiveLimit } from '../src/core/run/concurrency.js';
import { usageLimitOf } from '../src/core/run/usage-limit.js';
import { allows, type HostRule, networkRecord, parseNetwork, withModelApi } from '../src/core/agent/network.js';
import { git, PROJECT, tmpDir } from './support/fixtures.js';

const fixture = (name: string) => fs.readFileSync(path.join(PROJECT, 'test/fixtures', name), 'utf8');

describe('stream-json parser', () => {
  test('real Claude Code 2.1.197 output: figures from the result event, a readable transcript', () => {
    const parser = new StreamJsonParser();
    const text = fixture('claude-2.1.197-success.jsonl');
    // Fed in awkward pieces, as a followed file delivers it.
    let transcript = '';
    for (let i = 0; i < text.length; i += 37) transcript += parser.feed(text.slice(i, i + 37));
    transcript += parser.end();
    const result = JSON.parse(text.trim().split('\n').at(-1)!);
    assert.equal(parser.figures.turns, result.num_turns);
    assert.equal(parser.figures.costUsd, result.total_cost_usd);
    assert.deepEqual(parser.figures.tokens, {
      input: result.usage.input_tokens,
      output: result.usage.output_tokens,
      cacheRead: result.usage.cache_read_input_tokens,
      cacheCreation: result.usage.cache_creation_input_tokens,
    });
    assert.equal(parser.figures.model, 'claude-opus-4-8[1m]');
    assert.equal(parser.figures.result?.isError, false);
    assert.equal(parser.figures.otherLines, 0);
    assert.match(transcript, /^\[init\] model claude-opus-4-8\[1m\]/);
    assert.match(transcript, /^→ Write \{"file_path":/m);
    assert.match(transcript, /^\[result\] success · 3 turns · \$0\.0274\n$/m);
    assert.equal(transcript.split('Wrote tests/test_stp1.py.').length, 2, 'the final answer once, not again in the result');
  });

  test('an API error says success in subtype: only is_error tells', () => {
    const parser = new StreamJsonParser();
    parser.feed(fixture('claude-2.1.197-error.jsonl'));
    parser.end();
    assert.equal(parser.figures.result?.subtype, 'success');
    assert.equal(parser.figures.result?.isError, true);
    assert.match(parser.figures.result?.text ?? '', /^API Error: 500 scripted failure/);
  });

  test('lines that are not events pass through as they are; a last line without newline is kept', () => {
    const parser = new StreamJsonParser();
    assert.equal(parser.feed('hello\n{"not":"an event"}\n{broken json\n'), 'hello\n{"not":"an event"}\n{broken json\n');
    assert.equal(parser.feed('tail without newline'), '');
    assert.equal(parser.end(), 'tail without newline\n');
    assert.equal(parser.figures.otherLines, 4);
  });
});

describe('prompts', () => {
  const v1 = { name: 'v1', kind: 'monolithic' as const, dir: '/r/v1', entryFile: '/r/v1/prompt.md' };
  const v2 = { name: 'v2.1', kind: 'orchestrated' as const, dir: '/r/v2.1', entryFile: '/r/v2.1/orchestrator.md' };
  test('monolithic: every placeholder replaced literally, then the STP path', () => {
    assert.equal(buildPrompt(v1, 'A ${STP_CONTENT} B ${STP_CONTENT}\n\n', 'x $& $1 \\n', '/r/stps/1.md'), 'A x $& $1 \\n B x $& $1 \\n\n\nSTP File: /r/stps/1.md\n');
  });
  test('orchestrated: the slash command, or the configured template', () => {
    assert.equal(buildPrompt(v2, '', '', '/r/stps/1.md'), '/v2.1-orchestrator STP file path: /r/stps/1.md');
    assert.equal(buildPrompt(v2, '', '', '/s.md', { orchestrated: 'Run /${VERSION}-orchestrator on ${STP_PATH}' }), 'Run /v2.1-orchestrator on /s.md');
  });
});

/** Whether `version` is in an npm `engines` range of the forms ptg's dependencies use: `>=`, `>`, `^`, `~`, exact, `||`. */
function inRange(version: string, range: string): boolean {
  const parse = (v: string) => [...v.split('.').map(Number), 0, 0].slice(0, 3) as [number, number, number];
  const cmp = (a: number[], b: number[]) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
  const v = parse(version);
  return range.split('||').some((alternative) =>
    alternative.trim().replace(/(>=|>|\^|~)\s+/g, '$1').split(/\s+/).every((part) => {
      const [, op = '', at = ''] = /^(>=|>|\^|~|=)?v?([\d.]+)$/.exec(part) ?? [];
      assert.ok(at, `engines range "${range}": no rule for "${part}" in this test`);
      const w = parse(at);
      if (op === '>=') return cmp(v, w) >= 0;
      if (op === '>') return cmp(v, w) > 0;
      if (op === '^') return cmp(v, w) >= 0 && v[0] === w[0];
      if (op === '~') return cmp(v, w) >= 0 && v[0] === w[0] && v[1] === w[1];
      return cmp(v, w) === 0;
    }),
  );
}

describe('engines', () => {
  test('every Node that package.json admits runs ptg\'s dependencies, at the versions its lock file pins', () => {
    const range = (JSON.parse(fs.readFileSync(path.join(PROJECT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    const lowest = /^>=\s*([\d.]+)$/.exec(range)?.[1];
    assert.ok(lowest, `engines.node is "${range}": this test reads only ">=x.y"`);
    const lock = JSON.parse(fs.readFileSync(path.join(PROJECT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; engines?: { node?: string } }> };
    const runtime = Object.entries(lock.packages).filter(([key, p]) => key && !p.dev && p.engines?.node);
    assert.ok(runtime.length > 10);
    for (const node of [lowest, '20.19.0', '22.0.0', '24.0.0']) {
      for (const [key, p] of runtime) assert.ok(inRange(node, p.engines!.node!), `${key.replace(/^node_modules\//, '')} needs Node ${p.engines!.node}, not ${node}`);
    }
    // doctor reads the same range.
    assert.ok(nodeSatisfies(lowest, range) && nodeSatisfies('22.1.0', range) && !nodeSatisfies('20.4.9', range) && !nodeSatisfies('18.20.0', range));
  });
});

describe('small things', () => {
  test('the agent: --agent, else PTG_AGENT, else the config, else claude', () => {
    assert.deepEqual(chooseAgent('./a', { PTG_AGENT: 'b' }, 'c'), { command: './a', source: '--agent' });
    assert.deepEqual(chooseAgent(undefined, { PTG_AGENT: 'b' }, 'c'), { command: 'b', source: 'PTG_AGENT' });
    assert.deepEqual(chooseAgent(undefined, { PTG_AGENT: '' }, 'c'), { command: 'c', source: 'config' });
    assert.deepEqual(chooseAgent(undefined, {}, undefined), { command: 'claude', source: 'default' });
  });

  test('repository URLs stay as given; paths are resolved', () => {
    for (const url of ['https://github.com/o/r.git', 'file:///srv/r.git', 'ssh://git@host/r.git', 'git@github.com:o/r.git']) {
      assert.equal(resolveRepo(url, '/root'), url);
    }
    assert.equal(resolveRepo('../r.git', '/work/root'), '/work/r.git');
    assert.equal(resolveRepo('/srv/r', '/work/root'), '/srv/r');
  });

  test('durations', () => {
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('30m'), 1_800_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('45'), 45_000);
    assert.equal(parseDuration(10), 10_000);
    for (const bad of ['', 'soon', '-5m', '0s', '5d']) assert.throws(() => parseDuration(bad), /Invalid duration/);
    assert.equal(formatDuration(75_000), '1m15s');
    assert.equal(formatDuration(1_400), '1.4s');
    assert.equal(formatDuration(2_000), '2s');
    assert.equal(formatDuration(3_660_000), '1h01m');
  });
  test('STP ids sort numerically, then as text', () => {
    assert.deepEqual(['10', 'b', '2', 'a', '1'].sort(compareIds), ['1', '2', '10', 'a', 'b']);
  });
  test('run ids', () => {
    assert.equal(timestampId(new Date(2026, 1, 9, 14, 30, 22)), '20260209_143022');
    assert.equal(validateRunId('gha-123.4_x'), 'gha-123.4_x');
    for (const bad of ['../x', 'a/b', '', '.hidden', 'a..b']) assert.throws(() => validateRunId(bad), /Invalid run id/);
  });
  test('the model named in the agent arguments', () => {
    assert.equal(modelOf(['-p', '--model', 'opus']), 'opus');
    assert.equal(modelOf(['--model=sonnet']), 'sonnet');
    assert.equal(modelOf(['-p']), undefined);
  });
  test("the scripts' status line", () => {
    assert.equal(statusLine({ stp: '3', state: 'succeeded' }), '[STP 3] ✓ Completed successfully');
    assert.equal(statusLine({ stp: '3', state: 'failed', exitCode: 2 }), '[STP 3] ✗ Failed with exit code 2');
    assert.equal(statusLine({ stp: '3', repeat: 2, state: 'timed_out', timeoutMs: 1_800_000 }), '[STP 3 r2] ✗ Timed out after 30m00s');
  });
  test('the tail of a large file is read from its end', async () => {
    const file = path.join(tmpDir(), 'big.log');
    fs.writeFileSync(file, Array.from({ length: 100_000 }, (_, i) => `line ${i} ünïcode`).join('\n') + '\n');
    assert.deepEqual(await tailLines(file, 3), ['line 99997 ünïcode', 'line 99998 ünïcode', 'line 99999 ünïcode']);
    assert.deepEqual(await tailLines(path.join(path.dirname(file), 'missing'), 3), []);
  });
});

describe('git', () => {
  test("a same-size rewrite in the index's own second is still seen (git's racy-index check survives the copy)", async () => {
    const dir = tmpDir();
    git(dir, 'init', '-q');
    fs.writeFileSync(path.join(dir, 'f.txt'), 'aaaa\n');
    git(dir, 'add', 'f.txt');
    git(dir, 'commit', '-qm', 'base');
    // Staged and rewritten within one second, same size: the index entry's stat data matches
    // the new file, and only the index's own mtime (that second too) tells git to look again.
    const second = Math.floor(Date.now() / 1000) - 100;
    fs.writeFileSync(path.join(dir, 'f.txt'), 'bbbb\n');
    fs.utimesSync(path.join(dir, 'f.txt'), second, second);
    git(dir, 'add', 'f.txt');
    fs.writeFileSync(path.join(dir, 'f.txt'), 'cccc\n');
    fs.utimesSync(path.join(dir, 'f.txt'), second, second);
    fs.utimesSync(path.join(dir, '.git', 'index'), second, second);
    const tree = await worktreeTree(dir);
    const trees = await worktreeAndCommitTrees(dir, 'HEAD');
    assert.equal(trees.worktree, tree);
    assert.notEqual(tree, trees.commit);
    assert.equal(trees.commit, git(dir, 'rev-parse', 'HEAD^{tree}'));
    assert.equal(git(dir, 'cat-file', '-p', `${tree}:f.txt`), 'cccc');
  });
});

describe('the network of a run (--network)', () => {
  const parse = (text: string | string[]) => parseNetwork(text, '--network');
  test('on, off and allow-lists parse; a bad entry is a usage error naming it', () => {
    assert.deepEqual(parse('on'), { kind: 'on' });
    assert.deepEqual(parse(' OFF '), { kind: 'off' });
    assert.deepEqual(parse('pypi.org, *.pythonhosted.org,127.0.0.1:8080,[::1]:9000'), {
      kind: 'allow',
      hosts: [{ host: 'pypi.org' }, { host: '*.pythonhosted.org' }, { host: '127.0.0.1', port: 8080 }, { host: '::1', port: 9000 }],
    });
    assert.deepEqual(parse(['quay.io:443', 'pypi.org']), parse('quay.io:443,pypi.org'));
    for (const [bad, said] of [['pypi.org:http', /no port number/], ['a.b:70000', /outside 1-65535/], ['not a host', /not a host name/], ['300.1.1.1', /not a host name/], [',', /give on, off, or hosts/]] as const) {
      assert.throws(() => parse(bad), (e: Error) => e.name === 'UsageError' && said.test(e.message) && e.message.startsWith('--network'), bad);
    }
  });

  test('allows: a host, its port or any, subdomains of *.; the model API joins an allow-list once', () => {
    const { hosts } = parse('pypi.org,*.pythonhosted.org,127.0.0.1:8080') as { hosts: HostRule[] };
    assert.ok(allows(hosts, 'PyPI.org', 443) && allows(hosts, 'pypi.org.', 80));
    assert.ok(allows(hosts, 'files.pythonhosted.org', 443) && !allows(hosts, 'pythonhosted.org', 443));
    assert.ok(allows(hosts, '127.0.0.1', 8080) && !allows(hosts, '127.0.0.1', 8081));
    assert.ok(!allows(hosts, 'evil-pypi.org', 443));
    assert.deepEqual(networkRecord(withModelApi(parse('pypi.org'), {})), ['pypi.org', 'api.anthropic.com:443']);
    assert.deepEqual(networkRecord(withModelApi(parse('pypi.org'), { ANTHROPIC_BASE_URL: 'http://127.0.0.1:4000/v1' })), ['pypi.org', '127.0.0.1:4000']);
    assert.deepEqual(networkRecord(withModelApi(parse('*.anthropic.com'), {})), ['*.anthropic.com']);
    assert.deepEqual(withModelApi(parse('off'), {}), { kind: 'off' });
  });
});

describe('the allow-list proxy', () => {
  test('CONNECT tunnels to an allowed host:port, refuses others with 403 and names them, and says 502 where nothing listens', async () => {
    const echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const port = (echo.address() as net.AddressInfo).port;
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const free = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(free));
      });
    });
    const proxy = await startProxy((host, p) => host === '127.0.0.1' && (p === port || p === closed));
    const connect = (target: string) =>
      new Promise<{ status: number; echoed?: string }>((resolve, reject) => {
        const req = http.request({ socketPath: proxy.socket, method: 'CONNECT', path: target });
        req.on('connect', (res, socket) => {
          if (res.statusCode !== 200) return void (socket.destroy(), resolve({ status: res.statusCode! }));
          socket.once('data', (d) => (socket.destroy(), resolve({ status: 200, echoed: String(d) })));
          socket.write('hello');
        });
        req.on('error', reject);
        req.end();
      });
    try {
      assert.deepEqual(await connect(`127.0.0.1:${port}`), { status: 200, echoed: 'hello' });
      assert.deepEqual(await connect('example.com:443'), { status: 403 });
      assert.deepEqual(await connect(`127.0.0.1:${closed}`), { status: 502 });
      assert.deepEqual(proxy.refused, ['example.com:443']);
    } finally {
      await proxy.close();
      echo.close();
    }
    assert.ok(!fs.existsSync(proxy.socket));
  });
});

describe('adaptive concurrency', () => {
  test('a refusal halves the limit once per limit, a round of successes raises it by one, never past -j nor under 1', async () => {
    const changes: string[] = [];
    const limit = new AdaptiveLimit(4, 0, (c) => changes.push(`${c.from}→${c.to}`));
    const places = await Promise.all([limit.take(), limit.take(), limit.take(), limit.take()]);
    limit.rateLimited(places[2]!.generation, '429');
    limit.rateLimited(places[3]!.generation, '429'); // the same burst: no second halving
    assert.equal(limit.limit, 2);
    for (const p of places) p.leave();
    // Under the new limit: two places at once, the third waits for one to be left.
    const [a, b] = [await limit.take(), await limit.take()];
    let third = false;
    const c = limit.take().then((p) => ((third = true), p));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(third, false);
    limit.succeeded();
    limit.succeeded(); // two in a row at 2: 3
    assert.equal(limit.limit, 3);
    const cPlace = await c;
    assert.ok(third);
    limit.rateLimited(a.generation, '429'); // started before the raise: not this limit's signal
    assert.equal(limit.limit, 3);
    limit.rateLimited(cPlace.generation, '429');
    assert.equal(limit.limit, 1);
    limit.rateLimited(cPlace.generation, '429');
    assert.equal(limit.limit, 1);
    for (let i = 0; i < 20; i++) limit.succeeded();
    assert.equal(limit.limit, 4);
    assert.deepEqual(changes, ['4→2', '2→3', '3→1', '1→2', '2→3', '3→4']);
    for (const p of [a, b, cPlace]) p.leave();
  });

  test('a pause holds every start until it ends, a later one extends it, close() lets every waiter through', async () => {
    const limit = new AdaptiveLimit(2);
    const until = Date.now() + 30;
    assert.ok(limit.pauseUntil(until));
    assert.equal(limit.pauseUntil(until - 10), false, 'a shorter pause changes nothing');
    const first = await limit.take();
    assert.ok(Date.now() >= until, 'not before the pause ended');
    first.leave();
    assert.ok(limit.pauseUntil(Date.now() + 3_600_000));
    let through = 0;
    const waiting = [limit.take(), limit.take(), limit.take()].map((p) => p.then((place) => (through++, place)));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(through, 0);
    limit.close();
    for (const p of await Promise.all(waiting)) p.leave();
    assert.equal(through, 3, 'past the limit too: the caller sees why and does not start');
    assert.equal(limit.pauseUntil(Date.now() + 1000), false, 'closed: no more pauses');
  });
});

describe('usage limits', () => {
  const now = Date.UTC(2026, 11, 7, 14, 20, 0); // 14:20 UTC, 15:20 in Paris
  const at = (text: string) => usageLimitOf({ isError: true, text }, undefined, now)?.resetsAt;
  test('both of Claude Code\'s forms, with a zone, a date, or none; a time past is the next one', () => {
    assert.equal(at('Claude AI usage limit reached|1765090000'), new Date(1765090000 * 1000).toISOString());
    assert.equal(at("You've hit your session limit · resets 4:05pm (UTC)"), '2026-12-07T16:05:00.000Z');
    assert.equal(at('5-hour limit reached ∙ resets 5pm (Europe/Paris)'), '2026-12-07T16:00:00.000Z');
    assert.equal(at("You've hit your limit · resets 7:50am (America/Los_Angeles)"), '2026-12-07T15:50:00.000Z');
    assert.equal(at("You've hit your weekly limit · resets Dec 9, 5am (UTC)"), '2026-12-09T05:00:00.000Z');
    assert.equal(at("You've hit your session limit · resets in 2h 30m"), new Date(now + 150 * 60_000).toISOString());
    assert.equal(at('Claude AI usage limit reached. Your limit will reset at 1pm (Etc/GMT+5).'), '2026-12-07T18:00:00.000Z');
    // 2pm UTC passed 20 minutes ago: the limit lifting late, not tomorrow's; 9am passed long ago: tomorrow's.
    assert.equal(at('5-hour limit reached · resets 2pm (UTC)'), '2026-12-07T14:00:00.000Z');
    assert.equal(at('5-hour limit reached · resets 9am (UTC)'), '2026-12-08T09:00:00.000Z');
    // Said, but no time to read: a usage limit with no reset.
    assert.deepEqual(usageLimitOf({ isError: true, text: 'Claude AI usage limit reached' }, undefined, now), { message: 'Claude AI usage limit reached', resetsAt: undefined });
    assert.equal(at('5-hour limit reached · resets 5pm (Mars/Olympus)'), undefined);
  });

  test('a rejected rate_limit_event gives the exact reset; other limits and errors are not usage limits', () => {
    const parser = new StreamJsonParser();
    parser.feed(`${JSON.stringify({ type: 'rate_limit_event', rate_limit_info: { status: 'rejected', resetsAt: 1765123200, rateLimitType: 'five_hour' } })}\n`);
    assert.deepEqual(parser.figures.rateLimit, { status: 'rejected', resetsAt: 1765123200, type: 'five_hour' });
    assert.equal(usageLimitOf({ isError: true, text: '' }, 1765123200, now)?.resetsAt, new Date(1765123200 * 1000).toISOString());
    assert.equal(usageLimitOf({ isError: false, text: 'Done.' }, 1765123200, now), undefined);
    for (const text of ['Context limit reached · /compact or /clear to continue', 'API Error: Rate limit reached', 'API Error: 429 {"type":"rate_limit_error"}', 'Wrote tests with a retry limit.']) {
      assert.equal(usageLimitOf({ isError: true, text }, undefined, now), undefined, text);
    }
  });

  test('status.txt says when it resets', () => {
    const line = statusLine({ stp: '3', state: 'usage_limited', usageLimit: { message: 'x', resetsAt: '2026-12-07T16:05:00.000Z' } });
    assert.match(line, /^\[STP 3\] ✗ Usage limit, resets at 2026-12-07 \d\d:05:00$/);
    assert.equal(statusLine({ stp: '4', state: 'usage_limited' }), '[STP 4] ✗ Usage limit: not started');
  });
});
