// ptg as users get it: `npm pack` of this checkout, the tarball installed into an empty project,
// then `npx ptg …` there, with nothing of this clone on PATH or within reach of Node's module
// resolution. The installed ptg has no dev dependencies, so its demo finds no pinned Claude Code
// and must take the `claude` on PATH: here a link to this clone's pinned one, in a folder of its own.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import fs from 'fs-extra';
import { PROJECT, tmpDir } from './support/fixtures.js';

const PACKAGE = fs.readJsonSync(path.join(PROJECT, 'package.json')) as { name: string; version: string };
const PINNED_CLAUDE = path.join(PROJECT, 'node_modules', '.bin', 'claude');
const noClaude = fs.existsSync(PINNED_CLAUDE) ? false : `no claude binary at ${PINNED_CLAUDE}: run \`npm install\` (@anthropic-ai/claude-code is a dev dependency)`;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * A user's environment: no `npm_*` variables of the `npm test` that may be running this file (they
 * name this clone as the project), and no node_modules/.bin on PATH (this clone's holds the pinned
 * claude). npm's cache stays: it is the registry the install may use.
 */
function userEnv(pathDirs: string[]): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && key !== 'INIT_CWD') env[key] = value;
  }
  if (process.env.npm_config_cache) env.npm_config_cache = process.env.npm_config_cache;
  return { ...env, PATH: pathDirs.join(path.delimiter), NO_COLOR: '1', CI: 'true', IS_SANDBOX: '1' };
}

const systemPath = (process.env.PATH ?? '').split(path.delimiter).filter((dir) => dir && !dir.split(path.sep).includes('node_modules'));

/**
 * A lock file for the empty project holding the versions ptg's own lock pins, so that npm needs
 * only the packages' tarballs, which `npm ci` left in its cache. Without it, npm would resolve
 * ptg's version ranges against the registry: `npm ci` never fetched that metadata.
 */
function seededLock(name: string): object {
  const lock = fs.readJsonSync(path.join(PROJECT, 'package-lock.json')) as { packages: Record<string, { dev?: boolean; version: string; resolved?: string }> };
  const packages: Record<string, unknown> = { '': { name } };
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key || entry.dev) continue;
    // With its tarball's address npm fetches by integrity from the cache; without one it asks the
    // registry for the package's metadata first (ENOTCACHED offline).
    const pkg = key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
    packages[key] = { ...entry, resolved: entry.resolved ?? `https://registry.npmjs.org/${pkg}/-/${pkg.split('/').pop()}-${entry.version}.tgz` };
  }
  return { name, lockfileVersion: 3, requires: true, packages };
}

describe('ptg installed from its package', () => {
  const dir = fs.realpathSync(tmpDir('ptg-install-'));
  const project = path.join(dir, 'project');
  /** Holds only `claude`, first on PATH: "the claude on PATH" of the demo. */
  const claudeDir = path.join(dir, 'bin');
  const env = userEnv([claudeDir, ...systemPath]);
  let files: string[] = [];
  let tarball = '';
  let install: Result | undefined;
  let notInstalled: string | false = false;
  // Exactly what a user types. ptg is installed in the project, so npx finds it there and asks no registry.
  const npx = (args: string[], runEnv = env) => run('npx', ['ptg', ...args], { cwd: project, env: runEnv });

  after(() => fs.remove(dir));

  before(async () => {
    // The tarball of the dist/ that `npm test` (or `npm run build`) just built: with its scripts,
    // npm pack would empty and rebuild dist/ under the test files that run beside this one.
    // Its manifest as npm pack's prepack leaves it (no `prepare`), put back by its postpack.
    const manifest = (step: string) => run(process.execPath, ['scripts/pack-manifest.mjs', step], { cwd: PROJECT, env: userEnv(systemPath) });
    await manifest('strip');
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: PROJECT, env: userEnv(systemPath) }).finally(() => manifest('restore'));
    assert.equal(packed.code, 0, packed.stderr);
    const [info] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
    tarball = path.join(dir, info.filename);
    files = info.files.map((f) => f.path).sort();

    fs.outputJsonSync(path.join(project, 'package.json'), { name: 'an-experiment-repo', private: true });
    fs.outputJsonSync(path.join(project, 'package-lock.json'), seededLock('an-experiment-repo'));
    install = await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: project, env });
    if (install.code !== 0) {
      const offline = /ENOTCACHED|only-if-cached|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT/.exec(install.stderr);
      if (!offline) assert.fail(`npm install of the tarball failed:\n${install.stderr}`);
      notInstalled = `npm cannot install ptg's dependencies offline (${offline[0]}): npm's cache lacks one; \`npm ci\` in this clone fills it`;
    }
    if (!noClaude) fs.ensureSymlinkSync(PINNED_CLAUDE, path.join(claudeDir, 'claude'));
  });

  test('the package holds what bin, the demo and the reports need, and nothing of the tests or benchmarks', () => {
    for (const needed of ['package.json', 'README.md', 'bin/ptg.js', 'dist/cli.js', 'dist/io/process/watchdog.js', 'dist/demo/model-server.js', 'dist/render/html.js', 'examples/scripted-model/script.json', 'examples/root/v2/orchestrator.md', 'examples/target/inventory/cart.py', 'examples/ci/github-actions.yml', 'examples/k8s/indexed-job.yaml']) {
      assert.ok(files.includes(needed), `${needed} is not in the package`);
    }
    // Every module of src/ is there built: a file left out breaks a command only when it loads.
    const sources = fs.readdirSync(path.join(PROJECT, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    for (const source of sources) assert.ok(files.includes(path.posix.join('dist', source.split(path.sep).join('/').replace(/\.ts$/, '.js'))), `${source} is not in the package built`);
    const unwanted = files.filter((f) => /^(test|bench|src|scratch|\.ci)\/|\.map$|\.ts$|__pycache__|(^|\/)fixtures?\//.test(f));
    assert.deepEqual(unwanted, []);
    // A ceiling that catches a folder slipping in whole; about 100 files today.
    assert.ok(files.length < 130, `${files.length} files`);
  });

  test('installs with no build step; npx ptg --version and --help work', async (t) => {
    if (notInstalled) return t.skip(notInstalled);
    // npm lists a package whose install scripts it skipped: ptg must have none to skip.
    assert.doesNotMatch(install!.stderr, new RegExp(`${PACKAGE.name}@${PACKAGE.version} \\(`), install!.stderr);
    assert.ok(fs.existsSync(path.join(project, 'node_modules', '.bin', 'ptg')));
    assert.ok(fs.existsSync(path.join(project, 'node_modules', 'ptg', 'dist', 'cli.js')));
    assert.ok(!fs.existsSync(path.join(project, 'node_modules', '@anthropic-ai', 'claude-code')), 'Claude Code is not installed with ptg');

    const version = await npx(['--version']);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), PACKAGE.version);
    const help = await npx(['--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const command of ['setup', 'run', 'collect', 'compare', 'doctor', 'demo']) assert.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'));
  });

  test('npx ptg doctor names the path and version of the claude a run would use', { skip: noClaude }, async (t) => {
    if (notInstalled) return t.skip(notInstalled);
    const r = await npx(['doctor']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`✓ +agent +${claudeDir}/claude \\d+\\.\\d+\\.\\d+ \\(Claude Code\\) · the first claude on PATH`));
    assert.match(r.stdout, /pyright +\d+\.\d+\.\d+ \(npm, bundled with ptg\)/);
  });

  test('npx ptg demo runs with the claude on PATH, says which, and ends with where the reports are', { skip: noClaude }, async (t) => {
    if (notInstalled) return t.skip(notInstalled);
    const demo = path.join(project, 'ptg-demo');
    const started = Date.now();
    const r = await npx(['demo', demo]);
    t.diagnostic(`npx ptg demo took ${Date.now() - started} ms`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^  claude +\\d+\\.\\d+\\.\\d+, from PATH: ${claudeDir}/claude$`, 'm'));
    assert.match(r.stdout, /yours, but it spends nothing: the model is the local script/);
    assert.match(r.stdout, new RegExp(`example root +${project}/node_modules/ptg/examples/root`));
    const reports = [...r.stdout.matchAll(/^ +(?:\S+ +)?(?:summary|report) +(\S+\/(summary\.md|report\.html))$/gm)].map((m) => m[1]!);
    assert.equal(reports.length, 4, r.stdout);
    for (const file of reports) assert.ok(file.startsWith(`${demo}/`) && fs.existsSync(file), `${file} is missing`);
  });

  test('npx ptg demo with no claude anywhere says how to get one', async (t) => {
    if (notInstalled) return t.skip(notInstalled);
    const withoutClaude = systemPath.filter((d) => !fs.existsSync(path.join(d, 'claude')));
    if (!withoutClaude.includes(path.dirname(process.execPath))) return t.skip(`node's folder ${path.dirname(process.execPath)} holds a claude`);
    const r = await npx(['demo', path.join(project, 'no-demo')], userEnv(withoutClaude));
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /No Claude Code to run the demo with: install it with `npm install -g @anthropic-ai\/claude-code`/);
    assert.ok(!fs.existsSync(path.join(project, 'no-demo')), 'nothing made');
  });
});

describe('ptg from a clone of its repository', () => {
  const dir = fs.realpathSync(tmpDir('ptg-clone-'));
  const clone = path.join(dir, 'ptg');
  const env = userEnv(systemPath);
  after(() => fs.remove(dir));

  test('npm install prints no warning and builds it: node bin/ptg.js runs, and npm install -g of the clone gives a working ptg', async (t) => {
    // The clone's files as git has them (this checkout's tracked files, uncommitted changes included).
    const listed = await run('git', ['ls-files', '-z'], { cwd: PROJECT, env });
    for (const file of listed.stdout.split('\0').filter(Boolean)) {
      if (fs.existsSync(path.join(PROJECT, file))) fs.copySync(path.join(PROJECT, file), path.join(clone, file));
    }
    const install = await run('npm', ['install', '--offline', '--no-audit', '--no-fund'], { cwd: clone, env });
    const offline = install.code !== 0 && /ENOTCACHED|only-if-cached|ENOTFOUND|EAI_AGAIN/.exec(install.stderr);
    if (offline) return t.skip(`npm cannot install ptg's dev dependencies offline (${offline[0]}): \`npm ci\` in this clone fills its cache`);
    assert.equal(install.code, 0, install.stderr);
    assert.doesNotMatch(install.stdout + install.stderr, /npm warn/i);
    const version = await run(process.execPath, ['bin/ptg.js', '--version'], { cwd: clone, env });
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), PACKAGE.version);

    const prefix = path.join(dir, 'global');
    const global = await run('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', clone], { cwd: dir, env });
    assert.equal(global.code, 0, global.stderr);
    const installed = await run(path.join(prefix, 'bin', 'ptg'), ['--version'], { cwd: dir, env });
    assert.equal(installed.code, 0, installed.stderr);
    assert.equal(installed.stdout.trim(), PACKAGE.version);
  });
});
