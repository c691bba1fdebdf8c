// Issue 13's checks: verdicts beyond pyright, run in the slot once the agent ends, with real
// pyright and real pytest.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import fs from 'fs-extra';
import { parseCount } from '../src/core/checks.js';
import { runIdOf, setUpWorkspace } from './support/fixtures.js';

const write = (file: string, text: string) => `fake: write ${file} ${JSON.stringify(text)}\n`;

const COLLECTS = 'def test_one():\n    assert 1 + 1 == 2\n\n\ndef test_two():\n    assert True\n';
const IMPORT_ERROR = 'import no_such_module_anywhere\n\n\ndef test_three():\n    pass\n';
const SYNTAX_ERROR = 'def test_four(:\n    pass\n';

describe('checks', () => {
  test('pytest-collect, a user check with a count regex and a check whose tool is missing: each verdict, kept, and the agent still succeeded', async () => {
    const checks = [
      'pyright',
      'pytest-collect',
      // ruff-style: one line per finding, then a summary the count regex reads; fails when it finds any.
      { name: 'todo', run: 'n=$(grep -c TODO {files}); echo "Found $n errors."; test "$n" = 0', count: 'Found (\\d+) errors?' },
      { name: 'lint', run: 'no-such-linter-anywhere check {files}' },
    ];
    const w = await setUpWorkspace(
      {
        '1': `# STP 1\n${write('tests/test_collects.py', `${COLLECTS}# TODO one\n# TODO two\n`)}`,
        '2': `# STP 2\n${write('tests/test_import.py', IMPORT_ERROR)}`,
        '3': `# STP 3\n${write('tests/test_syntax.py', SYNTAX_ERROR)}`,
      },
      { checks },
    );
    const r = await w.run(['v1']);
    assert.equal(r.code, 0, r.stderr);
    const status = (id: string) => fs.readJsonSync(path.join(w.expDir(id, 'v1', runIdOf(r.stdout)), 'status.json'));
    const [one, two, three] = ['1', '2', '3'].map(status);
    for (const s of [one, two, three]) assert.equal(s.state, 'succeeded', 'a check is no failure of the agent');

    assert.deepEqual(pick(one.checks['pytest-collect']), { passed: true, count: 2 });
    assert.deepEqual(pick(two.checks['pytest-collect']), { passed: false, count: 0 });
    assert.match(two.checks['pytest-collect'].detail, /tests\/test_import\.py: ModuleNotFoundError: No module named 'no_such_module_anywhere'/);
    assert.deepEqual(pick(three.checks['pytest-collect']), { passed: false, count: 0 });
    assert.match(three.checks['pytest-collect'].detail, /tests\/test_syntax\.py: SyntaxError.*\(line 1\)/);

    assert.deepEqual(pick(one.checks.todo), { passed: false, count: 2 });
    assert.deepEqual(pick(two.checks.todo), { passed: true, count: 0 });

    assert.equal(one.checks.lint.passed, null, 'a missing tool is no verdict');
    assert.match(one.checks.lint.error, /no-such-linter-anywhere: .*not found/);

    assert.deepEqual(pick(one.checks.pyright), { passed: true, count: 0 });
    assert.equal(three.checks.pyright.passed, false);
    assert.ok(three.checks.pyright.count > 0);
    assert.equal(three.pyright.errors, three.checks.pyright.count, 'the pyright field stays for older readers');
    for (const s of [one, two, three]) for (const c of Object.values(s.checks) as { durationMs: number }[]) assert.ok(c.durationMs >= 0);

    const folder = w.expDir('2', 'v1', runIdOf(r.stdout));
    assert.match(fs.readFileSync(path.join(folder, 'checks/pytest-collect.txt'), 'utf8'), /ERROR collecting tests\/test_import\.py/);
    assert.match(fs.readFileSync(path.join(folder, 'checks/todo.txt'), 'utf8'), /Found 0 errors/);
    assert.ok(fs.existsSync(path.join(folder, 'checks/pyright.json')) && fs.existsSync(path.join(folder, 'pyright.json')));
    assert.ok(!fs.existsSync(path.join(w.slot('2'), 'tests/__pycache__')), 'checks leave no bytecode in the slot');
  });

  test('a bad check in the config is one line and exit 2 before anything starts', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n' }, { checks: ['pyright', 'mypy'] });
    const r = await w.run(['v1']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim(), 'ptg: ptg.config.json: "checks": unknown check "mypy": the built-in checks are pyright, pytest-collect; give others as { "name", "run", "count" }.');
    const w2 = await setUpWorkspace({ '1': '# STP 1\n' }, { checks: [{ name: 'x', run: 'true', count: 'no group' }] });
    assert.match((await w2.run(['v1'])).stderr, /^ptg: ptg.config.json: "checks": check "x": count "no group" needs exactly one group/);
  });

  test('named count parsers read pyright, ruff and pytest output', () => {
    assert.equal(parseCount('json-length', '[{"a":1},{"a":2}]'), 2);
    assert.equal(parseCount('ruff', '[{"code":"F401"}]'), 1);
    assert.equal(parseCount('ruff', 'x.py:1:1: F401 unused\nFound 3 errors.\n'), 3);
    assert.equal(parseCount('ruff', 'All checks passed!\n'), 0);
    assert.equal(parseCount('pyright', '{"summary":{"errorCount":4}}'), 4);
    assert.equal(parseCount('pyright', '2 errors, 0 warnings, 0 informations'), 2);
    assert.equal(parseCount('pytest', '3 tests collected in 0.1s'), 3);
    assert.equal(parseCount('pytest', '2 tests collected, 1 error in 0.65s'), 2);
    assert.equal(parseCount('pytest', '5 passed, 1 failed in 2.01s'), 5);
    assert.equal(parseCount('(\\d+) issues', 'none here'), null);
  });
});

function pick(result: { passed: boolean | null; count: number | null }) {
  return { passed: result.passed, count: result.count };
}
