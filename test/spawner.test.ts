// Issue 22: the process helper that starts agents and the git steps around them
// (src/io/process/spawner.ts), with real processes: what a job gets, how it ends, what is left.
import assert from 'node:assert/strict';
import nodeFs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import fs from 'fs-extra';
import { MARKER_PREFIX } from '../src/io/process/markers.js';
import { spawnerDone, spawnJob } from '../src/io/process/spawner.js';
import { tmpDir } from './support/fixtures.js';

const SECRET = 'spawner-secret-DO-NOT-WRITE-9931';
const dir = tmpDir('ptg-spawner-');
after(() => fs.remove(dir));

/** Runs `script` (sh) as a job; its exit status and what it printed. */
async function job(script: string, opts: { env?: NodeJS.ProcessEnv; cwd?: string; session?: boolean; stdin?: string } = {}) {
  const [stdout, stderr] = [path.join(dir, `${Math.random()}.out`), path.join(dir, `${Math.random()}.err`)];
  const started = await spawnJob({ command: 'sh', args: ['-c', script], stdout, stderr, ...opts });
  const status = await started.exit;
  return { pid: started.pid, status, out: await fs.readFile(stdout, 'utf8'), err: await fs.readFile(stderr, 'utf8') };
}

describe('the process helper', () => {
  test('a job gets exactly its environment (a value with quotes, a newline and $), its folder and its stdin; no file the helper writes holds a value', async () => {
    const value = `${SECRET} it's "quoted"\n$HOME \`x\` é`;
    const env: NodeJS.ProcessEnv = { ...process.env, TOKEN: value, EXTRA: '1' };
    delete env.HOME;
    const input = path.join(dir, 'input.txt');
    await fs.writeFile(input, 'the prompt\n');
    // Every job file, as the helper writes it.
    const written: string[] = [];
    const writeFile = nodeFs.promises.writeFile;
    nodeFs.promises.writeFile = ((file: string, data: string, ...rest: []) => (written.push(String(data)), writeFile(file, data, ...rest))) as typeof writeFile;
    const r = await job('env -0; cat', { env, cwd: dir, stdin: input }).finally(() => (nodeFs.promises.writeFile = writeFile));
    assert.equal(r.status, 0, r.err);
    const cut = r.out.lastIndexOf('\0') + 1;
    const got = Object.fromEntries(r.out.slice(0, cut).split('\0').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    for (const name of new Set([...Object.keys(env), ...Object.keys(got)])) if (name !== 'PWD' && name !== '_') assert.equal(got[name], env[name], name);
    assert.equal(got.TOKEN, value);
    assert.equal(got.HOME, undefined);
    assert.equal(got.PTG_MARKER, undefined, "the helper's own marker is not the job's");
    assert.equal(got.PWD, dir);
    assert.equal(r.out.slice(cut), 'the prompt\n');
    assert.equal(written.length, 1);
    assert.doesNotMatch(written[0]!, /DO-NOT-WRITE/);
  });

  test('exit statuses: a code, a signal as 128 + n; a job in a session of its own leads its group and ignores no signal, as with node\'s spawn', async () => {
    assert.equal((await job('exit 3')).status, 3);
    assert.equal((await job('kill -KILL $$')).status, 137);
    const own = await job('ps -o pgid= -o sid= -p $$; grep SigIgn /proc/$$/status', { session: true });
    const [ids, ignored] = own.out.trim().split('\n');
    assert.deepEqual(ids!.trim().split(/\s+/).map(Number), [own.pid, own.pid]);
    // A shell ignores SIGINT and SIGQUIT in what it starts with `&`: an agent's tools would inherit that.
    assert.match(ignored!, /^SigIgn:\s+0+$/);
  });

  test('a missing command or folder rejects with ENOENT; the helper goes on', async () => {
    const stdout = path.join(dir, 'x.out');
    await assert.rejects(spawnJob({ command: 'no-such-command-ptg', args: [], stdout, stderr: stdout }), { code: 'ENOENT' });
    await assert.rejects(spawnJob({ command: 'true', args: [], cwd: path.join(dir, 'nowhere'), stdout, stderr: stdout }), { code: 'ENOENT' });
    assert.equal((await job('exit 0')).status, 0);
  });

  test('SIGTERM to the helper and its jobs\' shells (as Slurm\'s scancel sends it) loses no exit; spawnerDone leaves nothing', async () => {
    const slow = await spawnJob({ command: 'sleep', args: ['1'], stdout: path.join(dir, 's.out'), stderr: path.join(dir, 's.err'), session: true });
    // Every process with the helper's marker: the helper and the shell waiting for `sleep`.
    const marked = () =>
      fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/environ`, 'utf8').includes(`PTG_MARKER=${MARKER_PREFIX}helper`);
        } catch {
          return false;
        }
      });
    // Until setsid has become sleep, the fork that runs it is a copy of the shell, marker and all: a SIGTERM then ends it.
    while (fs.readFileSync(`/proc/${slow.pid}/comm`, 'utf8') !== 'sleep\n') await new Promise((resolve) => setImmediate(resolve));
    const helpers = marked();
    assert.ok(helpers.length >= 2, `the helper and the job's shell carry the marker: ${helpers}`);
    for (const pid of helpers) process.kill(Number(pid), 'SIGTERM');
    assert.equal(await slow.exit, 0, 'sleep ran to its end and its status came back');
    assert.equal((await job('exit 5')).status, 5, 'the helper still takes jobs');
    await spawnerDone();
    assert.deepEqual(marked(), []);
  });
});
