// Rendered output pinned by golden files: summary.md, junit.xml, the comparison's markdown and the
// plain CI lines of a fixed fixture run, against test/golden/. A change of output is a diff in
// review; after a wanted change, `npm run golden:update` writes the files anew (then read the diff).
// The fixture is real (setup, the fake agent, pyright, collect, compare); what varies from one run
// to the next is fixed in the records before they are rendered (times, durations) or masked in the
// text (temporary paths, commit ids, pids).
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import fs from 'fs-extra';
import { PROJECT, ptg, setUpWorkspace } from './support/fixtures.js';

const GOLDEN = path.join(PROJECT, 'test', 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const write = (file: string, text: string) => `fake: write ${file} ${JSON.stringify(text)}\n`;

function matchesGolden(name: string, actual: string): void {
  const file = path.join(GOLDEN, name);
  if (UPDATE || !fs.existsSync(file)) {
    fs.outputFileSync(file, actual);
    if (!UPDATE) assert.fail(`${name} was missing: written now; check it in`);
    return;
  }
  assert.equal(actual, fs.readFileSync(file, 'utf8'), `${name} differs from test/golden/${name}: \`npm run golden:update\` if the change is wanted`);
}

/** Every run's times and durations fixed: STP k took k minutes, started at midnight. */
function fixTimes(ws: string, runId: string): void {
  const at = (minutes: number) => new Date(Date.UTC(2026, 0, 1, 0, minutes)).toISOString();
  const manifestFile = path.join(ws, '.ptg/runs/v1', runId, 'manifest.json');
  const manifest = fs.readJsonSync(manifestFile);
  Object.assign(manifest, { startedAt: at(0), finishedAt: at(10) });
  for (const e of manifest.experiments) {
    const k = Number(e.stp);
    Object.assign(e, { startedAt: at(0), finishedAt: at(k), durationMs: k * 60_000 });
    const statusFile = path.join(e.dir, 'status.json');
    fs.writeJsonSync(statusFile, { ...fs.readJsonSync(statusFile), startedAt: at(0), finishedAt: at(k), durationMs: k * 60_000 }, { spaces: 2 });
  }
  fs.writeJsonSync(manifestFile, manifest, { spaces: 2 });
}

describe('golden files', () => {
  test('summary.md, junit.xml, the comparison and the plain CI lines of a fixed run are as checked in', async () => {
    const good = 'def test_one() -> None:\n    assert 1 + 1 == 2\n';
    const bad = 'def test_two() -> None:\n    x: int = "two"\n    assert x\n';
    const w = await setUpWorkspace({
      '1': `# STP 1\n${write('tests/test_one.py', good)}fake: cost 0.02\nfake: turns 3\n`,
      '2': `# STP 2\n${write('tests/test_two.py', bad)}fake: cost 0.04\nfake: turns 5\n`,
      '3': '# STP 3\nfake: exit 2\n',
    });
    const mask = (text: string) =>
      text
        .replaceAll(fs.realpathSync(w.dir), '<tmp>')
        .replaceAll(w.dir, '<tmp>')
        .replaceAll(PROJECT, '<project>')
        .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
        .replace(/\b[0-9a-f]{40}\b|\b[0-9a-f]{12}\b/g, '<commit>')
        .replace(/pid \d+/g, 'pid <pid>')
        .replace(/bwrap \d+(\.\d+)+/g, 'bwrap <version>');
    // The run's own lines give the durations as measured; the records' are fixed before collect.
    const measured = (text: string) => text.replace(/\b\d+(\.\d+)?(ms|s)\b( +(?=\S))?/g, (_, _f, _u, pad) => (pad ? '<duration> ' : '<duration>'));

    const a = await w.run(['v1', '-j', '1', '--run-id', 'golden-a']);
    assert.equal(a.code, 1, a.stderr);
    // The lines as experiments start and end come in the order agents and checks happen to end:
    // pinned as a sorted block, the summary after it as printed.
    const [head, ...rest] = a.stdout.split('\n\n');
    const [first, ...live] = head!.split('\n');
    matchesGolden('run-ci-lines.txt', measured(mask(`${[first, ...live.sort()].join('\n')}\n\n${rest.join('\n\n')}--- stderr\n${a.stderr}`)));

    fs.writeFileSync(path.join(w.root, 'stps', '2.md'), `# STP 2\n${write('tests/test_two.py', good.replace('one', 'two'))}fake: cost 0.03\n`);
    fs.writeFileSync(path.join(w.root, 'stps', '3.md'), `# STP 3\n${write('tests/test_three.py', good.replace('one', 'three'))}\n`);
    const b = await w.run(['v1', '-j', '1', '--run-id', 'golden-b']);
    assert.equal(b.code, 0, b.stderr);

    for (const id of ['golden-a', 'golden-b']) {
      fixTimes(w.ws, id);
      const collected = await ptg(['collect', 'v1', id], { cwd: w.root });
      assert.equal(collected.code, 0, collected.stderr);
    }
    const results = path.join(w.ws, 'results_v1_golden-a');
    matchesGolden('summary.md', mask(fs.readFileSync(path.join(results, 'summary.md'), 'utf8')));
    matchesGolden('junit.xml', mask(fs.readFileSync(path.join(results, 'junit.xml'), 'utf8')));

    const compared = await ptg(['compare', 'v1@golden-a', 'v1@golden-b'], { cwd: w.root });
    assert.equal(compared.code, 0, compared.stderr);
    matchesGolden('comparison.md', mask(compared.stdout));
  });
});
