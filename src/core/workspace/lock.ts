import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import fs from 'fs-extra';
import { UsageError } from '../../errors.js';
import { paths } from './workspace.js';

/** What a lock file says: who holds the slot. */
export interface LockInfo {
  pid: number;
  /** The ptg command holding it: `run`, `setup`, `clean` or `handoff` (absent in an older ptg's lock: a run). */
  command?: string;
  /** A run's version and run id; a handoff's, of the experiment it opened. */
  version?: string;
  runId?: string;
  /** This taking and no other, so a release never removes a lock someone else took since. */
  nonce?: string;
}

/** A `.break` link older than this was left by a breaker that died: a live one is done in milliseconds. */
const ABANDONED_BREAK_MS = 5_000;

function holderName(holder: LockInfo): string {
  const command = holder.command ?? 'run';
  if (command === 'run' && holder.version) return `run ${holder.version} ${holder.runId}`;
  return `ptg ${command}${holder.version ? ` of ${holder.version} ${holder.runId}` : ''}`;
}

const ADVICE: Record<string, string> = {
  clean: 'wait for it to end, then clean again.',
  handoff: 'wait for it to end, then hand off again.',
  verify: 'wait for it to end, then verify again.',
};

/** What a lock file of this name guards, as a refusal names it: a slot, or a run (`lockRun`). */
function lockedThing(name: string): string {
  const run = /^run@(.+)@(.+)$/.exec(name);
  return run ? `Run ${run[2]} of ${run[1]}` : `Slot ${name}`;
}

async function orphanAgent(ws: string, holder: LockInfo, slot: string): Promise<number | undefined> {
  // A handoff names the run it opened, whose agents are long gone: only a run's own can be orphans.
  if ((holder.command ?? 'run') !== 'run' || !holder.version || !holder.runId) return undefined;
  // Loaded only for a lock whose holder is gone: setup and clean start without it (9 ms).
  const { readManifest } = await import('./manifest.js');
  const manifest = await readManifest(ws, holder.version, holder.runId).catch(() => undefined);
  return manifest?.experiments.find((e) => e.slot === slot && e.state === 'running' && isAlive(e.pid))?.pid;
}

/** A process that exists and is not a zombie (on Linux, an exited child not yet reaped still answers kill -0). */
export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return !existsSync('/proc/self'); // gone since kill -0; or no /proc (macOS), where kill -0 is all there is
  }
}

const code = (error: unknown) => (error as NodeJS.ErrnoException).code;

async function unlinkIfThere(file: string): Promise<void> {
  await fs.unlink(file).catch((error) => {
    if (code(error) !== 'ENOENT') throw error;
  });
}

/** The holder a lock file names; undefined when the file is gone; 'unreadable' when it names none. */
async function readHolder(file: string): Promise<LockInfo | 'unreadable' | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if (code(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const holder = JSON.parse(text) as LockInfo;
    if (Number.isInteger(holder?.pid) && holder.pid > 0) return holder;
  } catch {
    // Not JSON: no ptg wrote it whole, as ptg's locks appear whole or not at all.
  }
  return 'unreadable';
}

/** Why the slot stays with its holder, as the refusal to throw; undefined when the holder is gone. */
async function refusal(ws: string, slot: string, holder: LockInfo | 'unreadable', taker: string): Promise<UsageError | undefined> {
  if (holder === 'unreadable') return undefined;
  if (isAlive(holder.pid)) {
    const advice = ADVICE[taker] ?? 'wait for it to end, or choose other STPs with --stp.';
    return new UsageError(`${lockedThing(slot)} is in use by ${holderName(holder)} (pid ${holder.pid}): ${advice}`);
  }
  // ptg died without ending its agents (kill -9): one may still be writing in the slot.
  const orphan = await orphanAgent(ws, holder, slot);
  if (orphan) {
    return new UsageError(
      `An agent of run ${holder.version} ${holder.runId} (pid ${orphan}) still runs in slot ${slot} without ptg: end it with \`kill -- -${orphan}\`, then run again.`,
    );
  }
  return undefined;
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([fs.stat(a), fs.stat(b)]).catch(() => []);
  return Boolean(x && y && x.ino === y.ino && x.dev === y.dev);
}

/**
 * Removes a lock whose holder is gone, one breaker at a time: only the first to hard-link the
 * lock to `<lock>.break` breaks it, the others wait and try again. The `.break` link is the very
 * file it removes, so what it reads there is what it breaks, even if the lock changed hands since
 * the taker read it; and while the link exists no one else breaks. Returns a refusal when the
 * lock turns out to be held after all.
 */
async function breakStale(ws: string, slot: string, file: string, taker: string): Promise<UsageError | undefined> {
  const guard = `${file}.break`;
  try {
    await fs.link(file, guard);
  } catch (error) {
    if (code(error) === 'ENOENT') return undefined; // released meanwhile: take it
    if (code(error) !== 'EEXIST') throw error;
    // Linking changes a file's ctime, never its mtime: ctime says when the breaker began.
    const since = await fs.stat(guard).then((s) => Date.now() - s.ctimeMs, () => 0);
    if (since > ABANDONED_BREAK_MS) await unlinkIfThere(guard);
    else await sleep(10 + Math.random() * 20);
    return undefined;
  }
  try {
    const holder = await readHolder(guard);
    const refused = holder && (await refusal(ws, slot, holder, taker));
    if (refused) return refused;
    // Another lock by now only if a cleaner took this .break for abandoned and let a second breaker in.
    if (await sameFile(file, guard)) await unlinkIfThere(file);
    return undefined;
  } finally {
    await unlinkIfThere(guard);
  }
}

/**
 * Takes the slots for this process, so two runs (or a run and `ptg setup` or `ptg clean`) never
 * share a checkout: one would reset or remove the other's files. A lock appears whole or not at
 * all; one whose process is gone is broken by one taker only. Refuses (exit 2) when a slot is
 * held. Returns the release function.
 */
export async function lockSlots(ws: string, slots: string[], info: Pick<LockInfo, 'command' | 'version' | 'runId'>): Promise<() => Promise<void>> {
  const taken: { file: string; nonce: string }[] = [];
  const release = async () => {
    for (const { file, nonce } of taken.splice(0)) {
      const holder = await readHolder(file).catch(() => undefined);
      if (holder !== 'unreadable' && holder?.nonce === nonce) await unlinkIfThere(file);
    }
  };
  if (slots.length === 0) return release;
  const dir = paths.locks(ws);
  await fs.ensureDir(dir);
  const taker = info.command ?? 'run';
  try {
    // One order for every taker: two that want the same slots meet at the first, not crosswise.
    for (const slot of [...new Set(slots)].sort()) {
      const file = path.join(dir, `${slot}.lock`);
      const nonce = randomBytes(8).toString('hex');
      const lock: LockInfo = { pid: process.pid, command: taker, version: info.version, runId: info.runId, nonce };
      // Written whole beside the lock, then linked into place: link fails if the lock exists, so
      // a taker never sees a half-written lock and exactly one of two takers gets it.
      const tmp = `${file}.${process.pid}-${nonce}.tmp`;
      await fs.writeFile(tmp, `${JSON.stringify(lock)}\n`);
      try {
        for (;;) {
          try {
            await fs.link(tmp, file);
            taken.push({ file, nonce });
            break;
          } catch (error) {
            if (code(error) !== 'EEXIST') throw error;
          }
          const holder = await readHolder(file);
          if (holder === undefined) continue; // released meanwhile
          const refused = (await refusal(ws, slot, holder, taker)) ?? (await breakStale(ws, slot, file, taker));
          if (refused) throw refused;
        }
      } finally {
        await unlinkIfThere(tmp);
      }
    }
  } catch (error) {
    await release();
    throw error;
  }
  return release;
}

/**
 * Takes a run for this process: two `ptg verify` of one run would both add `verify-<n>` and
 * write its status.json files over each other. Slots are not taken: verify works in checkouts
 * of its own. Returns the release function.
 */
export function lockRun(ws: string, info: Required<Pick<LockInfo, 'command' | 'version' | 'runId'>>): Promise<() => Promise<void>> {
  // `@` is in no slot's name, version or run id: compare's `v2.1@<run-id>` keeps it out.
  return lockSlots(ws, [`run@${info.version}@${info.runId}`], info);
}
