// Secrets off disk: the values of the variables a run hands the agent (requiredEnv, --env, the
// API keys) are replaced by `***NAME***` in everything ptg keeps. Streams are masked as they pass,
// holding back just enough text that a value split between two chunks is still found.
import { randomBytes } from 'node:crypto';
import fs from 'fs-extra';

export interface Secret {
  name: string;
  value: string;
}

/** Values shorter than this are not masked: replacing every "qe" or "1" would mangle the files, and they hide nothing. */
export const MIN_SECRET_LENGTH = 4;

/** The secrets of an environment: the named variables that are set to something worth masking, longest first. */
export function secretsOf(env: NodeJS.ProcessEnv, names: string[]): Secret[] {
  const secrets = [...new Set(names)].flatMap((name) => {
    const value = env[name];
    return value && value.length >= MIN_SECRET_LENGTH ? [{ name, value }] : [];
  });
  return secrets.sort((a, b) => b.value.length - a.value.length);
}

/** `***NAME***` back to NAME's value in `env`, where it has one: an argument the manifest keeps masked, for the agent again. */
export function unmaskText(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(/\*\*\*([A-Za-z_][A-Za-z0-9_]*)\*\*\*/g, (token, name: string) => env[name] ?? token);
}

/**
 * Masks a stream of text in pieces. `latin1` treats each byte as one character, so a file can be
 * rewritten byte for byte whatever it holds; `utf8` is for text already decoded.
 */
export class StreamMasker {
  readonly counts = new Map<string, number>();
  private readonly patterns: { name: string; value: string; token: string }[];
  private readonly keep: number;
  private carry = '';

  constructor(secrets: Secret[], encoding: 'utf8' | 'latin1' = 'utf8') {
    this.patterns = secrets.map((s) => ({
      name: s.name,
      value: encoding === 'latin1' ? Buffer.from(s.value, 'utf8').toString('latin1') : s.value,
      token: `***${s.name}***`,
    }));
    this.keep = Math.max(0, ...this.patterns.map((p) => p.value.length - 1));
  }

  /** Takes the next piece; returns the masked text that is safe to pass on now. */
  push(text: string): string {
    const all = this.carry + text;
    // A value that starts before this point fits in `all` whole, the longest one too: it can be
    // judged now. What starts later waits for the next piece.
    const { out, next } = this.replace(all, all.length - this.keep);
    this.carry = all.slice(next);
    return out;
  }

  /** The text held back, masked. */
  end(): string {
    const { out } = this.replace(this.carry, this.carry.length);
    this.carry = '';
    return out;
  }

  /** Replaces the values that start before `limit`, leftmost first and the longest where two start at one place. */
  private replace(text: string, limit: number): { out: string; next: number } {
    let out = '';
    let i = 0;
    for (;;) {
      let at = -1;
      let found: (typeof this.patterns)[number] | undefined;
      for (const p of this.patterns) {
        const j = text.indexOf(p.value, i);
        if (j >= 0 && j < limit && (at < 0 || j < at)) {
          at = j;
          found = p;
        }
      }
      if (!found) break;
      out += text.slice(i, at) + found.token;
      i = at + found.value.length;
      this.counts.set(found.name, (this.counts.get(found.name) ?? 0) + 1);
    }
    const next = Math.max(i, limit);
    return { out: out + text.slice(i, next), next };
  }
}

/** Masks one string whole: for JSON ptg writes and lines it prints. */
export function maskText(text: string, secrets: Secret[]): string {
  if (secrets.length === 0) return text;
  const masker = new StreamMasker(secrets);
  return masker.push(text) + masker.end();
}

/**
 * Masks a file in place, streamed: a scan first, and a rewrite (beside, then renamed, the mode
 * kept) only when a value is there. Returns how many of each it replaced.
 */
export async function maskFile(file: string, secrets: Secret[]): Promise<Map<string, number>> {
  if (secrets.length === 0) return new Map();
  const scan = new StreamMasker(secrets, 'latin1');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 16 })) scan.push((chunk as Buffer).toString('latin1'));
  scan.end();
  if (scan.counts.size === 0) return scan.counts;
  const masker = new StreamMasker(secrets, 'latin1');
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const { mode } = await fs.stat(file);
  const out = fs.createWriteStream(tmp, { mode });
  const write = (text: string) => new Promise<void>((resolve, reject) => (out.write(Buffer.from(text, 'latin1'), (e) => (e ? reject(e) : resolve()))));
  try {
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 16 })) await write(masker.push((chunk as Buffer).toString('latin1')));
    await write(masker.end());
  } finally {
    await new Promise<void>((resolve) => out.end(resolve));
  }
  await fs.rename(tmp, file);
  return masker.counts;
}
