import { createHash } from 'node:crypto';
import type { Config } from './config.js';
import type { Version } from './root.js';

export const STP_PLACEHOLDER = '${STP_CONTENT}';

/**
 * The prompt an agent gets on standard input. Monolithic: prompt.md with `${STP_CONTENT}`
 * replaced by the STP's text, then `STP File: <path>`. Orchestrated: the slash command that
 * Claude Code expands from `.claude/commands/<v>-orchestrator.md`.
 */
export function buildPrompt(version: Version, versionText: string, stpText: string, stpPath: string, prompts: Config['prompts'] = {}): string {
  const fill = (template: string) => template.split('${VERSION}').join(version.name).split('${STP_PATH}').join(stpPath);
  if (version.kind === 'orchestrated') {
    return fill(prompts.orchestrated ?? '/${VERSION}-orchestrator STP file path: ${STP_PATH}');
  }
  // split/join, not replace(): a `$&` or `$1` in an STP must arrive as written.
  const body = versionText.split(STP_PLACEHOLDER).join(stpText);
  return `${body.replace(/\n*$/, '')}\n\n${fill(prompts.stpFileLine ?? 'STP File: ${STP_PATH}')}\n`;
}

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}
