// What shapes an agent's behaviour in a slot besides the version under test: the target's
// CLAUDE.md files and .claude/settings*.json, the user's own ~/.claude/CLAUDE.md and
// settings.json, and the base commit. Its hash goes into status.json, so `compare` can say
// when two runs differ in more than the version.
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import fs from 'fs-extra';
import { filesNamed } from '../../io/git.js';
import type { AgentContext } from '../workspace/manifest.js';

const SLOT_SETTINGS = ['.claude/settings.json', '.claude/settings.local.json'];
const USER_FILES = ['CLAUDE.md', 'settings.json'];

// Every slot of a run sits on the same base commit, and a commit's files never change: one listing per commit.
const claudeFiles = new Map<string, Promise<string[]>>();

export async function agentContext(slotDir: string, baseCommit: string, env: NodeJS.ProcessEnv = process.env): Promise<AgentContext> {
  const userDir = env.CLAUDE_CONFIG_DIR ?? path.join(env.HOME ?? os.homedir(), '.claude');
  const candidates: [string, string][] = [
    ...(await listClaudeFiles(slotDir, baseCommit)).map((p): [string, string] => [p, path.join(slotDir, p)]),
    ...SLOT_SETTINGS.map((p): [string, string] => [p, path.join(slotDir, p)]),
    ...USER_FILES.map((f): [string, string] => [`~/.claude/${f}`, path.join(userDir, f)]),
  ];
  const hash = createHash('sha256').update(`base ${baseCommit}\n`);
  const files: string[] = [];
  for (const [name, file] of candidates.sort(([a], [b]) => a.localeCompare(b))) {
    const bytes = await fs.readFile(file).catch(() => undefined);
    if (!bytes) continue;
    files.push(name);
    hash.update(`${name}\n${bytes.length}\n`).update(bytes);
  }
  return { hash: hash.digest('hex'), files };
}

/** Lists the base commit's CLAUDE.md files ahead of agentContext (while the slot is reset): a commit's files never change. */
export function listClaudeFiles(slotDir: string, baseCommit: string): Promise<string[]> {
  let listed = claudeFiles.get(baseCommit);
  if (!listed) {
    listed = filesNamed(slotDir, baseCommit, 'CLAUDE.md');
    claudeFiles.set(baseCommit, listed);
    // A failure (a slot whose objects are gone) is that slot's: the next one asks again.
    listed.catch(() => claudeFiles.delete(baseCommit));
  }
  return listed;
}
