import path from 'node:path';
import fs from 'fs-extra';
import { runCommand, which } from '../../io/process/proc.js';
import type { PythonStatus } from '../workspace/workspace.js';

/**
 * Gives a slot a `.venv` with pyright and pytest (for the pytest-collect check): the configured
 * shell commands when there are some, else `uv` when it is on PATH, else `python3 -m venv` and its pip. Never throws: a failure
 * is the slot's status, with the reason.
 */
export async function setupPython(slotDir: string, commands: string[] | undefined, env: NodeJS.ProcessEnv = process.env): Promise<PythonStatus> {
  const venvPython = path.join(slotDir, '.venv', 'bin', 'python');
  if (commands) {
    for (const command of commands) {
      const result = await runCommand(command, [], { cwd: slotDir, env, shell: true });
      if (!result.ok) return { status: 'failed', reason: result.reason };
    }
    return { status: 'ready', python: (await fs.pathExists(venvPython)) ? venvPython : undefined };
  }

  if ((await fs.pathExists(venvPython)) && (await runCommand(venvPython, ['-c', 'import pyright, pytest'], { cwd: slotDir, env })).ok) {
    return { status: 'ready', python: venvPython, reason: 'already set up' };
  }
  const uv = await which('uv', env.PATH);
  const python3 = await which('python3', env.PATH);
  const steps: [string, string[]][] = uv
    ? [
        [uv, ['venv', '--quiet', '.venv']],
        [uv, ['pip', 'install', '--quiet', '--python', venvPython, 'pyright', 'pytest']],
      ]
    : python3
      ? [
          [python3, ['-m', 'venv', '.venv']],
          [venvPython, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', 'pyright', 'pytest']],
        ]
      : [];
  if (steps.length === 0) {
    return { status: 'failed', reason: 'neither uv nor python3 is on PATH: install one, or pass --no-python' };
  }
  for (const [cmd, args] of steps) {
    const result = await runCommand(cmd, args, { cwd: slotDir, env, timeoutMs: 10 * 60_000 });
    if (!result.ok) return { status: 'failed', reason: result.reason };
  }
  return { status: 'ready', python: venvPython };
}
