// Issue 21: the reference in docs/ and `--help` say the same thing. Every flag a command's help
// lists is named in README.md or docs/, and every flag they name is a real one (or another tool's,
// listed here), so neither drifts from the code. And the README stays a README.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { PROJECT, PTG_BIN } from './support/fixtures.js';

/** Flags the pages name that belong to other programs. */
const OTHER_TOOLS: Record<string, string> = {
  '--save-dev': 'npm',
  '--test-concurrency': 'node',
  '--cpu-prof': 'node',
  '--default-signal': 'env',
  '--only': 'npm run bench',
  '--no-local': 'git clone',
  '--shared': 'git clone',
  '--offline': 'npm',
  '--max-turns': 'claude',
  '--dependency': 'sbatch',
  '--partition': 'sbatch',
  '--time': 'sbatch',
  '--mem': 'sbatch',
  '--cpus-per-task': 'sbatch',
  '--export': 'sbatch',
  '--dangerously-skip-permissions': 'claude',
  '--output-format': 'claude',
  '--verbose': 'claude',
  '--collect-only': 'pytest',
  '--security-opt': 'docker',
  '--die-with-parent': 'bwrap',
  '--unshare-net': 'bwrap',
  '--ro-bind': 'bwrap',
};

const help = (args: string[]) => execFileSync(process.execPath, [PTG_BIN, ...args, '--help'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

function helpFlags(): Set<string> {
  const top = help([]);
  const commands = [...top.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!).filter((c) => c !== 'help');
  const flags = new Set<string>();
  for (const text of [top, ...commands.map((c) => help([c]))]) {
    const options = text.split(/^Options:$/m)[1]?.split(/^\S/m)[0] ?? '';
    for (const m of options.matchAll(/(?:^|[ ,])(--[a-z][a-z0-9-]*)/gm)) flags.add(m[1]!);
  }
  return flags;
}

const pages = ['README.md', ...fs.readdirSync(path.join(PROJECT, 'docs')).map((f) => path.join('docs', f))];
const text = pages.map((f) => fs.readFileSync(path.join(PROJECT, f), 'utf8')).join('\n');

describe('docs/ and --help', () => {
  test('every flag in --help is named in README.md or docs/, and every flag they name exists', () => {
    const flags = helpFlags();
    const named = new Set([...text.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
    assert.deepEqual([...flags].filter((f) => !named.has(f)), [], 'in --help, named nowhere in the docs');
    assert.deepEqual([...named].filter((f) => !flags.has(f) && !OTHER_TOOLS[f]), [], "named in the docs, but no command has it (another program's? add it to OTHER_TOOLS)");
  });

  test('the README is short, leads with setup and test, and its links to docs/ resolve', () => {
    const readme = fs.readFileSync(path.join(PROJECT, 'README.md'), 'utf8');
    assert.ok(Buffer.byteLength(readme) <= 12 * 1024, `README.md is ${Buffer.byteLength(readme)} bytes`);
    const firstBlock = /```bash\n([\s\S]*?)```/.exec(readme)![1]!;
    assert.match(firstBlock, /ptg setup/);
    assert.match(firstBlock, /npm test/);
    for (const page of pages) {
      const source = fs.readFileSync(path.join(PROJECT, page), 'utf8');
      for (const [, link] of source.matchAll(/\]\(((?:docs\/)?[\w-]+\.md)(?:#[\w-]+)?\)/g)) {
        assert.ok(fs.existsSync(path.join(PROJECT, path.dirname(page), link!)), `${page} links to ${link}, which is not there`);
      }
    }
  });
});

describe('options declared once', () => {
  test("each option that overrides a config key gives that key's description in the schema", async () => {
    const { OPTIONS, configHelp } = await import('../src/core/root/options.js');
    const { Config } = await import('../src/core/root/config-schema.js');
    for (const spec of Object.values(OPTIONS) as { config?: string }[]) {
      if (!spec.config) continue;
      const [key, inner] = spec.config.split('.') as [string, string | undefined];
      type Field = { description?: string; unwrap?: () => Field; shape?: Record<string, Field>; options?: Field[] };
      let field = (Config.shape as unknown as Record<string, Field>)[key]!;
      if (inner) {
        // `sandbox` is a mode or an object: the object's field.
        const outer = field.unwrap!();
        field = (outer.shape ?? outer.options!.find((o) => o.shape)!.shape!)[inner]!;
      }
      assert.equal(field.description, configHelp(spec.config), spec.config);
    }
  });

  test("a flag's string is declared once in src/ (core/root/options.ts)", () => {
    const src = (fs.readdirSync(path.join(PROJECT, 'src'), { recursive: true, encoding: 'utf8' }) as string[]).filter((f) => f.endsWith('.ts'));
    const declared = src.flatMap((f) => [...fs.readFileSync(path.join(PROJECT, 'src', f), 'utf8').matchAll(/flags: '([^']+)'|\.option\('([^']+)'/g)].map((m) => `${f}: ${m[1] ?? m[2]}`));
    assert.ok(declared.every((d) => d.startsWith(path.join('core', 'root', 'options.ts'))), declared.filter((d) => !d.startsWith('core')).join('\n'));
  });
});
