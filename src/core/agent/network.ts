// What of the network a sandboxed process reaches: all of it (`on`), none (`off`), or the hosts of
// an allow-list, through a filtering proxy ptg serves (io/process/net-proxy.ts). Parsed here from
// `--network`, the version's and the config's `sandbox.network`; the model API's host joins an
// agent's allow-list, since without it the agent cannot work at all.
import { UsageError } from '../../errors.js';
import type { NetworkRecord } from '../workspace/manifest.js';

/** One allowed host: a name (`pypi.org`, `*.pythonhosted.org`), an IPv4 or IPv6 address; any port when none is named. */
export interface HostRule {
  host: string;
  port?: number;
}

export type Network = { kind: 'on' } | { kind: 'off' } | { kind: 'allow'; hosts: HostRule[] };

export const NETWORK_ON: Network = { kind: 'on' };
export const NETWORK_OFF: Network = { kind: 'off' };

const NAME = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * `on`, `off`, or `HOST[:PORT],…` (a list in the config): an unparsable entry is the user's
 * error, named with where it came from (`--network`, `ptg.config.json: "sandbox.network"`).
 */
export function parseNetwork(given: string | string[], where: string): Network {
  const text = Array.isArray(given) ? given.join(',') : given;
  const trimmed = text.trim().toLowerCase();
  if (trimmed === 'on') return NETWORK_ON;
  if (trimmed === 'off') return NETWORK_OFF;
  const entries = trimmed.split(',').map((e) => e.trim()).filter(Boolean);
  if (!entries.length) throw new UsageError(`${where} ${JSON.stringify(text)}: give on, off, or hosts as HOST[:PORT],… (pypi.org,127.0.0.1:8080).`);
  return { kind: 'allow', hosts: entries.map((entry) => hostRule(entry, where)) };
}

function hostRule(entry: string, where: string): HostRule {
  const bad = (why: string) => new UsageError(`${where}: "${entry}" ${why}; give HOST or HOST:PORT, like pypi.org, *.pythonhosted.org, 127.0.0.1:8080, [::1]:8080.`);
  const bracketed = /^\[([0-9a-f:.]+)\](?::(.*))?$/.exec(entry);
  const [host, portText] = bracketed ? [bracketed[1]!, bracketed[2]] : entry.includes('::') ? [entry, undefined] : (entry.split(/:(.*)/s, 2) as [string, string | undefined]);
  if (portText !== undefined && !/^\d{1,5}$/.test(portText)) throw bad('has no port number after ":"');
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && (port < 1 || port > 65535)) throw bad('has a port outside 1-65535');
  const v6 = host.includes(':');
  if (v6 ? !/^[0-9a-f:.]+$/.test(host) : IPV4.test(host) ? host.split('.').some((n) => Number(n) > 255) : !NAME.test(host)) throw bad('is not a host name or address');
  return port === undefined ? { host } : { host, port };
}

/** Whether `host:port` (as a client asks the proxy for it) is allowed. */
export function allows(rules: HostRule[], host: string, port: number): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  return rules.some((r) => (r.port === undefined || r.port === port) && (r.host.startsWith('*.') ? name.endsWith(r.host.slice(1)) : name === r.host));
}

export function hostText(r: HostRule): string {
  const host = r.host.includes(':') ? `[${r.host}]` : r.host;
  return r.port === undefined ? host : `${host}:${r.port}`;
}

export function networkRecord(n: Network): NetworkRecord {
  return n.kind === 'allow' ? n.hosts.map(hostText) : n.kind;
}

/**
 * The model API's host (ANTHROPIC_BASE_URL's, else api.anthropic.com:443), added to an agent's
 * allow-list unless it is there already.
 */
export function withModelApi(n: Network, env: NodeJS.ProcessEnv): Network {
  if (n.kind !== 'allow') return n;
  let api: HostRule = { host: 'api.anthropic.com', port: 443 };
  try {
    if (env.ANTHROPIC_BASE_URL) {
      const url = new URL(env.ANTHROPIC_BASE_URL);
      api = { host: url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase(), port: Number(url.port) || (url.protocol === 'http:' ? 80 : 443) };
    }
  } catch {
    // Not a URL: Claude Code will say so; the list stays as given.
    return n;
  }
  return allows(n.hosts, api.host, api.port!) ? n : { kind: 'allow', hosts: [...n.hosts, api] };
}

/** Does the allow-list name this machine's loopback (the proxy then reaches it, not the sandbox's own)? */
export function namesLoopback(rules: HostRule[]): boolean {
  return rules.some((r) => r.host === 'localhost' || r.host === '::1' || r.host.startsWith('127.'));
}
