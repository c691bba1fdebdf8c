#!/usr/bin/env node
import { fileURLToPath } from 'node:url';

// The package ships dist/ built; a clone builds it with `npm run build` (npm test and npm run demo do).
const cli = new URL('../dist/cli.js', import.meta.url);
let loaded;
try {
  loaded = await import(cli.href);
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes(fileURLToPath(cli))) throw error;
  process.stderr.write(`ptg: ${fileURLToPath(cli)} is missing: this clone of ptg is not built yet; run \`npm run build\` in ${fileURLToPath(new URL('..', cli)).replace(/\/$/, '')}.\n`);
  process.exitCode = 2;
}
loaded?.main(process.argv);
