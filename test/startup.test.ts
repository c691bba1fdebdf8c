// Start and end of the ptg process: what a command loads.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import fs from 'fs-extra';
import { makeRoot, PROJECT, PTG_BIN, type PtgResult, tmpDir } from './support/fixtures.js';

const LOAD_LOG = path.join(PROJECT, 'test', 'support', 'load-log.mjs');

/** `node <nodeArgs> bin/ptg.js <args>`, as fixtures' `ptg` runs it, with Node flags in front. */
function ptgWith(nodeArgs: string[], args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; onSpawn?: (child: ChildProcessWithoutNullStreams) => void } = {}): Promise<PtgResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, PTG_BIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, NO_COLOR: '1', CI: 'true', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    opts.onSpawn?.(child);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The packages under node_modules and ptg's own modules that `ptg <args>` loads. */
async function loaded(args: string[], cwd: string): Promise<{ packages: Set<string>; own: string[]; result: PtgResult }> {
  const log = path.join(tmpDir(), 'loaded.txt');
  const result = await ptgWith(['--import', LOAD_LOG], args, { cwd, env: { PTG_TEST_LOAD_LOG: log } });
  const urls = fs.readFileSync(log, 'utf8').trim().split('\n');
  const packages = new Set(urls.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter((p): p is string => p !== undefined));
  const dist = pathToFileURL(path.join(PROJECT, 'dist')).href;
  const own = urls.filter((u) => u.startsWith(`${dist}/`)).map((u) => `dist${u.slice(dist.length)}`);
  return { packages, own, result };
}

describe('start-up: a command loads what it uses', () => {
  test('--version and --help load commander and nothing else', async () => {
    const root = makeRoot(tmpDir());
    for (const args of [['--version'], ['--help']]) {
      const { packages, own, result } = await loaded(args, root);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual([...packages], ['commander'], `ptg ${args[0]} loads ${[...packages].join(', ')}`);
      assert.deepEqual(own.filter((m) => m.includes('/commands/')), [], `ptg ${args[0]} loads no command module`);
    }
  });

  test('ptg runs, status and compare load neither execa nor simple-git', async () => {
    const root = makeRoot(tmpDir());
    for (const args of [['runs', '--json'], ['status', '--json'], ['compare', 'v1'], ['collect', 'v1', '--list']]) {
      const { packages, own, result } = await loaded(args, root);
      // compare exits 1 (no runs yet) after loading everything it needs.
      assert.ok(result.code === 0 || result.code === 1, `ptg ${args.join(' ')}: ${result.stderr}`);
      assert.ok(own.some((m) => m.startsWith(`dist/commands/${args[0] === 'collect' ? 'runs' : args[0]}.js`)), `ptg ${args.join(' ')} ran its command`);
      for (const heavy of ['execa', 'simple-git']) assert.ok(!packages.has(heavy), `ptg ${args.join(' ')} loads ${heavy}`);
    }
  });
});
