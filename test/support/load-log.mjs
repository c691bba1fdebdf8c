// Preloaded into a ptg under test (`node --import <this> bin/ptg.js ...`): writes the URL of every
// module ptg loads, one a line, to $PTG_TEST_LOAD_LOG, so a test can say what a command pulls in.
// Module hooks run on a thread of their own: this file registers itself there, and the copy on
// that thread does the logging.
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

if (isMainThread && process.env.PTG_TEST_LOAD_LOG) register(import.meta.url, { data: process.env.PTG_TEST_LOAD_LOG });

let file;

export function initialize(data) {
  file = data;
}

export async function load(url, context, nextLoad) {
  // Synchronous, so the line is on disk before the module runs.
  appendFileSync(file, `${url}\n`);
  return nextLoad(url, context);
}
