// Where Claude Code keeps its configuration and its sessions (measured in 2.1.197): ptg's handoff
// looks for a session there, and the sandbox gives each agent its own session folder there.
import os from 'node:os';
import path from 'node:path';
import fs from 'fs-extra';

/** `$CLAUDE_CONFIG_DIR`, else `~/.claude`. */
export function claudeConfigDir(env: NodeJS.ProcessEnv): string {
  return (env.CLAUDE_CONFIG_DIR ?? path.join(env.HOME || os.homedir(), '.claude')).normalize('NFC');
}

/**
 * The folder of a working directory's sessions: `<config>/projects/<cwd>`, `<cwd>` being its real
 * path with every character but letters and digits turned into `-`, cut at 200 and followed by a
 * hash of the path when longer.
 */
export async function claudeProjectDir(env: NodeJS.ProcessEnv, cwd: string): Promise<string> {
  const real = (await fs.realpath(cwd).catch(() => cwd)).normalize('NFC');
  return path.join(claudeConfigDir(env), 'projects', projectFolder(real));
}

function projectFolder(cwd: string): string {
  const name = cwd.replace(/[^a-zA-Z0-9]/g, '-');
  if (name.length <= 200) return name;
  let hash = 0;
  for (let i = 0; i < cwd.length; i++) hash = ((hash << 5) - hash + cwd.charCodeAt(i)) | 0;
  return `${name.slice(0, 200)}-${Math.abs(hash).toString(36)}`;
}
