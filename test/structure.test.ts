// Issue 21: the house keeps its shape. Imports run one way, from the command line down to the
// machine, through core's folders in the order docs/architecture.md gives; no folder grows past
// about ten modules; no function in src/ is over 60 lines (scripts/function-lengths.mjs).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { PROJECT } from './support/fixtures.js';

const SRC = path.join(PROJECT, 'src');
/** Lowest first: a module imports only from its own layer or those before it. */
export const LAYERS = ['errors', 'io', 'core/root', 'core/workspace', 'core/agent', 'core/setup', 'core/checks', 'core/run', 'core/reports', 'render', 'demo', 'commands', 'cli'];

function layerOf(file: string): string {
  const rel = path.relative(SRC, file).replace(/\.(ts|js)$/, '');
  const layer = [...LAYERS].sort((a, b) => b.length - a.length).find((l) => rel === l || rel.startsWith(`${l}/`));
  assert.ok(layer, `${rel} is in no layer: add its folder to LAYERS and docs/architecture.md`);
  return layer;
}

const modules = (fs.readdirSync(SRC, { recursive: true, encoding: 'utf8' }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => path.join(SRC, f));

describe('the structure of src/', () => {
  test('every import runs down the layers, never back up', () => {
    const upward: string[] = [];
    for (const file of modules) {
      const text = fs.readFileSync(file, 'utf8');
      for (const [, spec] of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
        const target = path.resolve(path.dirname(file), spec!);
        const [from, to] = [layerOf(file), layerOf(target)];
        if (LAYERS.indexOf(to) > LAYERS.indexOf(from)) upward.push(`${path.relative(SRC, file)} imports ${path.relative(SRC, target)} (${from} → ${to})`);
      }
    }
    assert.deepEqual(upward, []);
  });

  test('no folder holds more than 11 modules', () => {
    const counts = new Map<string, number>();
    for (const file of modules) counts.set(path.dirname(file), (counts.get(path.dirname(file)) ?? 0) + 1);
    const big = [...counts].filter(([, n]) => n > 11).map(([dir, n]) => `${path.relative(PROJECT, dir)}: ${n}`);
    assert.deepEqual(big, []);
  });

  test('no function is over 60 lines', () => {
    const r = spawnSync(process.execPath, [path.join(PROJECT, 'scripts', 'function-lengths.mjs')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});
