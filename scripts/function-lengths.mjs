#!/usr/bin/env node
// Lists the functions in src/ longer than a limit (default 60 lines), with the TypeScript compiler's
// own parse: function declarations, methods, and arrow functions and function expressions given a
// name (`const f = () => …`, an object's `key: () => …`). Exits 1 when any is over the limit, so
// `npm test` keeps the code readable top to bottom. `node scripts/function-lengths.mjs [--max N] [--all]`
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const args = process.argv.slice(2);
const max = Number(args[args.indexOf('--max') + 1]) || 60;
const all = args.includes('--all');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'src');

function nameOf(node) {
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))) return parent.name.getText();
  return undefined;
}

const found = [];
for (const rel of fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))) {
  const file = path.join(root, rel);
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isConstructorDeclaration(node)) {
      const name = ts.isConstructorDeclaration(node) ? 'constructor' : nameOf(node);
      if (name && node.body) {
        const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
        const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        found.push({ where: `src/${rel}:${start + 1}`, name, lines: end - start + 1 });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}
const over = found.filter((f) => f.lines > max).sort((a, b) => b.lines - a.lines);
for (const f of all ? found.sort((a, b) => b.lines - a.lines) : over) console.log(`${String(f.lines).padStart(4)}  ${f.name}  ${f.where}`);
if (over.length) {
  console.error(`${over.length} function(s) over ${max} lines in src/: split them into named steps.`);
  process.exit(1);
}
console.log(`no function in src/ is over ${max} lines (${found.length} measured)`);
