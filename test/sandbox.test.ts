// Issue 19: every agent runs in a bubblewrap sandbox that shows it its own slot, the tools and its
// own session, and nothing else of the machine. Real bubblewrap, real processes.
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { describe, test } from 'node:test';
import fs from 'fs-extra';
import { isAlive, ptg, runIdOf, setUpWorkspace, tmpDir, waitFor } from './support/fixtures.js';

const write = (file: string, text: string) => `fake: write ${file} ${JSON.stringify(text)}\n`;
const statusOf = (dir: string) => fs.readJsonSync(path.join(dir, 'status.json'));

/** What the fake agent tried outside its slot, as its record (changes.patch) shows: `read ~/.ssh/id_ed25519: ENOENT`, … */
function attempts(expDir: string): string[] {
  const patch = fs.readFileSync(path.join(expDir, 'changes.patch'), 'utf8');
  return patch.split('\n').filter((l) => /^\+(read|write) /.test(l)).map((l) => l.slice(1));
}

describe('the sandbox', () => {
  test('an agent cannot read a sibling slot, the records or ~/.ssh, nor write beside its slot; with --sandbox none it can', async () => {
    const w = await setUpWorkspace({ '1': `# STP 1\n${write('tests/test_one.py', 'def test_one():\n    assert True\n')}`, '2': `# STP 2\n${write('tests/test_two.py', 'def test_two():\n    assert True\n')}` });
    const home = path.join(w.dir, 'home');
    fs.outputFileSync(path.join(home, '.ssh', 'id_ed25519'), 'PRIVATE KEY\n');
    const env = { HOME: home };
    const first = await w.run(['v1', '--run-id', 'first'], { env });
    assert.equal(first.code, 0, first.stderr);

    // STP 1 now tries to escape; the records of the first run are one `cd ..` away.
    fs.writeFileSync(
      path.join(w.root, 'stps', '1.md'),
      [
        '# STP 1',
        'fake: try-read ../2-upstream/README.md',
        'fake: try-read ../experiments/v1_experiment_first/2-upstream/changes.patch',
        'fake: try-read ~/.ssh/id_ed25519',
        'fake: try-write ../escape.txt',
        write('tests/test_one.py', 'def test_one():\n    assert True\n'),
      ].join('\n'),
    );
    const boxed = await w.run(['v1', '--stp', '1', '--run-id', 'boxed'], { env });
    assert.equal(boxed.code, 0, boxed.stderr);
    const boxedDir = w.expDir('1', 'v1', 'boxed');
    assert.equal(statusOf(boxedDir).state, 'succeeded');
    assert.equal(statusOf(boxedDir).sandbox.kind, 'bwrap');
    const tried = attempts(boxedDir);
    assert.equal(tried.length, 4, tried.join('\n'));
    for (const line of tried) assert.doesNotMatch(line, /: ok$/, line);
    assert.ok(!fs.existsSync(path.join(w.ws, 'escape.txt')));
    assert.match(fs.readFileSync(path.join(boxedDir, 'changes.patch'), 'utf8'), /tests\/test_one\.py/);

    const open = await w.run(['v1', '--stp', '1', '--run-id', 'open', '--sandbox', 'none'], { env });
    assert.equal(open.code, 0, open.stderr);
    const openDir = w.expDir('1', 'v1', 'open');
    assert.deepEqual(statusOf(openDir).sandbox, { kind: 'none', reason: '--sandbox none', network: 'on' });
    assert.deepEqual(attempts(openDir), tried.map((l) => l.replace(/: \w+$/, ': ok')));
    assert.ok(fs.existsSync(path.join(w.ws, 'escape.txt')));
  });

  test('7 agents give the same states, tests and checks with the sandbox as without', async () => {
    const stps: Record<string, string> = {};
    for (let i = 1; i <= 7; i++) {
      const body = i === 3 ? 'fake: exit 1\n' : i === 5 ? 'fake: error 500 boom\n' : '';
      stps[String(i)] = `# STP ${i}\n${write(`tests/test_s${i}.py`, `def test_s${i}():\n    assert True\n`)}${body}`;
    }
    const w = await setUpWorkspace(stps, { checks: ['pytest-collect'] });
    const boxed = await w.run(['v1', '--run-id', 'boxed']);
    const open = await w.run(['v1', '--run-id', 'open', '--sandbox', 'none']);
    assert.equal(boxed.code, open.code, `${boxed.stderr}\n${open.stderr}`);
    const summary = (runId: string) =>
      Object.keys(stps).map((id) => {
        const s = statusOf(w.expDir(id, 'v1', runId));
        return { state: s.state, testFiles: s.testFiles, checks: Object.fromEntries(Object.entries(s.checks ?? {}).map(([name, c]: [string, any]) => [name, { passed: c.passed, count: c.count }])) };
      });
    assert.deepEqual(summary('boxed'), summary('open'));
    assert.equal(statusOf(w.expDir('1', 'v1', 'boxed')).sandbox.kind, 'bwrap');
    assert.equal(summary('boxed')[0]!.checks['pytest-collect']?.passed, true);
  });

  for (const signal of ['SIGKILL', 'SIGHUP', 'SIGINT'] as const) {
    test(`${signal} of ptg leaves no sandboxed agent, grandchildren and a setsid one included, within 2 s`, async () => {
      const w = await setUpWorkspace({ '1': '# STP 1\nfake: grandchild\nfake: hang\n', '2': '# STP 2\nfake: setsid\nfake: hang\n' });
      let pid = 0;
      const running = w.run(['v1', '--sandbox', 'bwrap', '--run-id', 'ended'], { onSpawn: (p) => (pid = p) });
      const logs = ['1', '2'].map((id) => path.join(w.expDir(id, 'v1', 'ended'), 'claude.jsonl'));
      await waitFor('both agents and their grandchildren', () => logs.every((f) => fs.existsSync(f) && /grandchild pid/.test(fs.readFileSync(f, 'utf8'))));
      const inside = sandboxedAgents(w.ws);
      assert.ok(inside.length >= 6, `bwrap, its init, the agent and its sleep, twice: ${inside.length}`);
      process.kill(pid, signal);
      const killedAt = Date.now();
      const r = await running;
      await waitFor('no agent left', () => inside.every((p) => !isAlive(p)), 2000);
      assert.ok(Date.now() - killedAt < 2000);
      if (signal !== 'SIGKILL') assert.equal(r.code, signal === 'SIGHUP' ? 129 : 130, r.stderr);
    });
  }

  for (const network of [[], ['--network', 'pypi.org']]) {
    test(`ptg handoff ${network.join(' ')} resumes the session in the sandbox, and ending ptg ends it`, async () => {
      const w = await setUpWorkspace({ '1': `# STP 1\n${write('tests/test_one.py', 'def test_one():\n    pass\n')}` });
      const env = { CLAUDE_CONFIG_DIR: path.join(w.dir, 'claude-config') };
      assert.equal((await w.run(['v1', '--run-id', 'first'], { env })).code, 0);
      let pid = 0;
      const handing = ptg(['handoff', 'v1', 'first', '--stp', '1', ...network], { cwd: w.root, env: { ...env, IS_SANDBOX: '1', FAKE_AGENT_RESUME_HANG: '1' }, onSpawn: (p) => (pid = p) });
      // bwrap, its init, the agent; with an allow-list the bridge too.
      const inside = await waitFor('the resumed agent in bubblewrap', () => {
        const found = sandboxedAgents(w.ws);
        return found.length >= 3 + (network.length ? 1 : 0) && found;
      });
      process.kill(pid, 'SIGTERM');
      const r = await handing;
      assert.equal(r.code, 143, r.stderr);
      await waitFor('no agent left', () => inside.every((p) => !isAlive(p)), 2000);
    });
  }

  test('a --timeout ends the sandboxed tree', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: grandchild\nfake: ignore-term\nfake: hang\n' });
    const r = await w.run(['v1', '--sandbox', 'bwrap', '--timeout', '2s', '--run-id', 'timed']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(statusOf(w.expDir('1', 'v1', 'timed')).state, 'timed_out');
    assert.deepEqual(sandboxedAgents(w.ws), []);
  });

  test('PTG_SANDBOX=bwrap without bubblewrap is exit 2 in one line; auto warns once and runs unsandboxed', async () => {
    const w = await setUpWorkspace({ '1': `# STP 1\n${write('tests/test_one.py', 'def test_one():\n    pass\n')}` });
    // A PATH with what ptg and the fake agent need, and no bwrap.
    const bin = tmpDir('ptg-nobwrap-');
    for (const tool of ['node', 'git']) fs.symlinkSync(whichSync(tool), path.join(bin, tool));
    const refused = await w.run(['v1'], { env: { PATH: bin, PTG_SANDBOX: 'bwrap' } });
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.match(refused.stderr, /PTG_SANDBOX.*bwrap.*not on PATH/);
    assert.ok(!fs.existsSync(path.join(w.ws, 'experiments')));

    const warned = await w.run(['v1', '--run-id', 'auto'], { env: { PATH: bin } });
    assert.equal(warned.code, 0, warned.stderr);
    assert.equal(warned.stderr.match(/without a sandbox/g)?.length, 1, warned.stderr);
    assert.deepEqual(statusOf(w.expDir('1', 'v1', 'auto')).sandbox, { kind: 'none', reason: 'bubblewrap (bwrap) is not on PATH', network: 'on' });
    assert.equal(runIdOf(warned.stdout), 'auto');
  });

  test('--network: off reaches nothing, an allow-list only its hosts (through the proxy), the default everything; status.json says which', async () => {
    const [a, b] = await Promise.all([httpServer(), httpServer()]);
    try {
      const fetchBoth = `# STP 1\nfake: fetch http://127.0.0.1:${a.port}/a\nfake: fetch http://127.0.0.1:${b.port}/b\n${write('tests/test_one.py', 'def test_one():\n    pass\n')}`;
      // A check that calls out: checks run with the network off, unless verify is told otherwise.
      const checks = [{ name: 'fetch', run: `curl -sf -o /dev/null http://127.0.0.1:${a.port}/check` }];
      const w = await setUpWorkspace({ '1': fetchBoth }, { checks, versions: { v2: { sandbox: { network: 'off' } } } });
      const outcome = async (args: string[], runId: string, version = 'v1') => {
        const r = await w.run([version, ...args, '--run-id', runId]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        const dir = w.expDir('1', version, runId);
        return { fetched: fetches(dir), status: statusOf(dir) };
      };
      const open = await outcome([], 'open');
      assert.deepEqual(open.fetched, [`fetch http://127.0.0.1:${a.port}/a: 200`, `fetch http://127.0.0.1:${b.port}/b: 200`]);
      assert.equal(open.status.sandbox.network, 'on');
      assert.equal(open.status.sandbox.checkNetwork, 'off');
      assert.equal(open.status.checks.fetch.passed, false);
      const verified = await ptg(['verify', 'v1', 'open', '--network', `127.0.0.1:${a.port}`], { cwd: w.root });
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
      const again = statusOf(w.expDir('1', 'v1', 'open')).verifications[0];
      assert.equal(again.checks.fetch.passed, true);
      assert.deepEqual(again.sandbox.checkNetwork, [`127.0.0.1:${a.port}`]);

      const off = await outcome(['--network', 'off'], 'off');
      assert.deepEqual(off.fetched.map((l) => l.replace(/^.*: /, '')), ['curl exit 7', 'curl exit 7'], off.fetched.join('\n'));
      assert.equal(off.status.sandbox.network, 'off');
      assert.equal((await outcome([], 'version-off', 'v2')).status.sandbox.network, 'off');

      const listed = await outcome(['--network', `127.0.0.1:${a.port}`], 'listed');
      assert.deepEqual(listed.fetched, [`fetch http://127.0.0.1:${a.port}/a: 200`, `fetch http://127.0.0.1:${b.port}/b: 403`]);
      assert.deepEqual(listed.status.sandbox.network, [`127.0.0.1:${a.port}`, 'api.anthropic.com:443']);
      assert.deepEqual(listed.status.networkRefused, [`127.0.0.1:${b.port}`]);
      assert.deepEqual([a.paths, b.paths], [['/a', '/check', '/a'], ['/b']]);
      assert.equal(listed.status.state, 'succeeded');
    } finally {
      a.server.close();
      b.server.close();
    }
  });

  test('a --network that cannot be had is one line, exit 2, before any agent starts', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n' });
    for (const [args, said] of [
      [['--network', 'pypi.org:http'], /--network: "pypi.org:http" has no port number/],
      [['--network', 'not a host'], /"not a host" is not a host name/],
      [['--network', 'off', '--sandbox', 'none'], /--network off: limiting the network needs the bubblewrap sandbox, and --sandbox says none/],
    ] as const) {
      const r = await w.run(['v1', ...args]);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, said);
    }
    assert.ok(!fs.existsSync(path.join(w.ws, 'experiments')));
  });

  test('a path the sandbox cannot show is refused before any agent starts', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n' });
    const r = await w.run(['v1', '--sandbox-ro', path.join(w.dir, 'no-such-kubeconfig')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot show .*no-such-kubeconfig/);
  });
});

/** The fake agent's `fetch` outcomes, as its record (changes.patch) shows: `fetch http://…: 200`. */
function fetches(expDir: string): string[] {
  const patch = fs.readFileSync(path.join(expDir, 'changes.patch'), 'utf8');
  return patch.split('\n').filter((l) => l.startsWith('+fetch ')).map((l) => l.slice(1));
}

/** A server on this machine's loopback that answers 200 and keeps the paths asked. */
async function httpServer(): Promise<{ server: http.Server; port: number; paths: string[] }> {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? '');
    res.end('ok\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, paths };
}

/** bwrap processes started for this workspace's slots, and what runs inside them (by their environment's marker). */
function sandboxedAgents(ws: string): number[] {
  const found: number[] = [];
  for (const n of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmdline = fs.readFileSync(`/proc/${n}/cmdline`, 'utf8');
      const cwd = fs.readlinkSync(`/proc/${n}/cwd`);
      if ((cmdline.includes(ws) || cwd.startsWith(ws)) && isAlive(Number(n))) found.push(Number(n));
    } catch {
      // ended meanwhile
    }
  }
  return found;
}

function whichSync(tool: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const file = path.join(dir, tool);
    if (dir && fs.existsSync(file)) return fs.realpathSync(file);
  }
  throw new Error(`${tool} is not on PATH`);
}
