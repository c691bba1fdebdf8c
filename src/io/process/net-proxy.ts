// The network of an allow-list: a sandbox without one of its own (bwrap --unshare-net: loopback
// alone) reaches out only through an HTTP proxy ptg serves on a Unix socket bound into it. Inside,
// a bridge (node, a few lines) listens on the sandbox's own 127.0.0.1:PROXY_PORT, forwards each
// connection to that socket and runs the command: the standard proxy variables then point curl,
// git, Python, Node and Claude Code at it. Outside, the proxy opens what the list allows (CONNECT
// for TLS, absolute-form requests for plain HTTP) and answers 403 to the rest, keeping their names.
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';

/** Where the bridge listens inside the sandbox (its own network namespace: always free). */
export const PROXY_PORT = 3128;
/** Where the proxy's socket is inside the sandbox: in its private /tmp, always there (a mount point: it cannot be removed). */
export const PROXY_SOCKET = '/tmp/.ptg-proxy.sock';

export interface NetProxy {
  /** The socket outside, to bind at PROXY_SOCKET. */
  socket: string;
  /** `host:port`s asked for and refused, each once, in order. */
  refused: string[];
  close(): Promise<void>;
}

/** A proxy on a fresh Unix socket that opens connections `allowed` says yes to. */
export async function startProxy(allowed: (host: string, port: number) => boolean): Promise<NetProxy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptg-net-'));
  const socket = path.join(dir, 'proxy.sock');
  const refused: string[] = [];
  const open = new Set<net.Socket>();
  const refuse = (target: string) => {
    if (!refused.includes(target)) refused.push(target);
    return `ptg: ${target} is not in this run's network allow-list (--network)\n`;
  };
  const server = http.createServer((req, res) => {
    const url = URL.canParse(req.url ?? '') ? new URL(req.url!) : undefined;
    if (!url || url.protocol !== 'http:') return void res.writeHead(400).end('ptg: a proxy request names an absolute http:// URL\n');
    const port = Number(url.port) || 80;
    const target = `${url.hostname}:${port}`;
    if (!allowed(url.hostname, port)) return void res.writeHead(403, { 'content-type': 'text/plain' }).end(refuse(target));
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const upstream = http.request({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, method: req.method, path: `${url.pathname}${url.search}`, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (e) => (res.headersSent ? res.destroy() : res.writeHead(502).end(`ptg: ${target}: ${e.message}\n`)));
    req.pipe(upstream);
  });
  const track = (s: net.Socket) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  };
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => tunnel(req.url ?? '', client, head, allowed, refuse, track));
  server.on('connection', track);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socket, () => resolve()));
  return {
    socket,
    refused,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** CONNECT `target` (`host:port`, TLS inside): a tunnel when allowed, else 403 with why; 502 where nothing answers. */
function tunnel(target: string, client: net.Socket, head: Buffer, allowed: (host: string, port: number) => boolean, refuse: (target: string) => string, track: (s: net.Socket) => void): void {
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(target);
  client.on('error', () => undefined);
  if (!match) return void client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
  const [host, port] = [match[1]!, Number(match[2])];
  if (!allowed(host, port)) return void client.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\n${refuse(`${host}:${port}`)}`);
  let connected = false;
  const upstream = net.connect(port, host, () => {
    connected = true;
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  track(client);
  track(upstream);
  // Before the tunnel: the client reads why; after: the tunnel ends as a connection would.
  upstream.on('error', (e) => (connected ? client.destroy() : client.end(`HTTP/1.1 502 Bad Gateway\r\n\r\nptg: ${host}:${port}: ${e.message}\n`)));
  client.on('close', () => upstream.destroy());
}

/**
 * The bridge, run by node inside the sandbox as `node -e BRIDGE SOCKET PORT COMMAND ARGS…`: it
 * listens, then runs the command with its standard input and output, and ends as it ended (its
 * exit code, or the same signal). The command is in its process group and carries ptg's marker,
 * so ptg's signals (and the terminal's Ctrl-C) reach it directly: the bridge outlives them, since
 * its end would end the sandbox, and the command with it, before it had stopped as it was asked.
 */
export const BRIDGE = `
const net = require('node:net');
const { spawn } = require('node:child_process');
const [socket, port, command, ...args] = process.argv.slice(1);
const server = net.createServer((c) => {
  const u = net.connect(socket);
  c.on('error', () => u.destroy());
  u.on('error', () => c.destroy());
  c.pipe(u);
  u.pipe(c);
});
server.on('error', (e) => { process.stderr.write('ptg: the network bridge cannot listen: ' + e.message + '\\n'); process.exit(126); });
server.listen(Number(port), '127.0.0.1', () => {
  const child = spawn(command, args, { stdio: 'inherit' });
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => undefined);
  child.on('error', (e) => { process.stderr.write('ptg: ' + command + ': ' + e.message + '\\n'); process.exit(127); });
  child.on('exit', (code, signal) => {
    if (!signal) process.exit(code ?? 1);
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
});
`;
