// Process plumbing for the testbed: free loopback ports, detached children with log files, readiness, kill by pid.
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';

/** The kernel's range for the source ports of outgoing connections (`[low, high]`). */
export function ephemeralPortRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi)) return [lo!, hi!];
  } catch { /* not Linux */ }
  return [32768, 60999];
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Lowest and highest port `freePort` picks from, below the ephemeral range and below NodePorts (30000–32767). */
export const SERVER_PORTS = { min: 20000, max: 29999 };
const handedOut = new Set<number>();

/**
 * A TCP port free for a server of the testbed, on every address. It is taken from below the
 * kernel's ephemeral range, so no outgoing connection can hold it as its source port: a component
 * restarted on its old port (the real node's kubelet, whose healthz on 127.0.0.1 once stayed
 * unbound for a whole minute) finds it free. Ports are not handed out twice by one process. Where
 * the ephemeral range leaves no room below it, the kernel picks (port 0).
 */
export async function freePort(): Promise<number> {
  const max = Math.min(SERVER_PORTS.max, ephemeralPortRange()[0] - 1);
  if (max - SERVER_PORTS.min >= 1000) {
    for (let i = 0; i < 500; i++) {
      const port = SERVER_PORTS.min + Math.floor(Math.random() * (max - SERVER_PORTS.min + 1));
      if (handedOut.has(port)) continue;
      handedOut.add(port);
      // The wildcard address conflicts with a listener on any one address, 127.0.0.1 included.
      if (await canListen(port, '0.0.0.0')) return port;
    }
  }
  return kernelPort();
}

export interface Started { pid: number; name: string; log: string; cmd?: string; args?: string[]; cwd?: string | undefined }

/**
 * Starts a long-running child in its own process group, stdout+stderr to `log`, detached so that
 * `npm run testbed -- up` can exit while the cluster keeps running. `down` kills it by pid.
 */
export function startDetached(name: string, cmd: string, args: string[], log: string, env: NodeJS.ProcessEnv = process.env, cwd?: string): Started {
  // Checked before spawning: a missing binary is a clear error here, not an 'error' event later.
  try { accessSync(cmd, constants.X_OK); } catch (err) {
    throw new Error(`cannot start ${name}: ${cmd} is not an executable file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  const fd = openSync(log, 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env, cwd });
  closeSync(fd);
  // A spawn failure (ENOENT, EACCES) is emitted as 'error' after this returns; unhandled, it would
  // crash the caller before it can stop what it already started. waitReady sees the pid gone.
  child.on('error', () => {});
  if (child.pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
  child.unref();
  return { pid: child.pid, name, log, cmd, args, cwd };
}

export function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** SIGTERM the process group, then SIGKILL after `graceMs`; resolves when the pid is gone. */
export async function killPid(pid: number, graceMs = 5000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try { process.kill(-pid, sig); } catch { /* not a group leader or gone */ }
    try { process.kill(pid, sig); } catch { /* gone */ }
  };
  if (!isAlive(pid)) return;
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) signal('SIGKILL');
  const hard = Date.now() + 5000;
  while (isAlive(pid) && Date.now() < hard) await sleep(50);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface ProbeOptions { ca?: Buffer; token?: string; insecure?: boolean }

/** GET a URL once; resolves with the status code, or 0 when nothing answered. */
export function probe(url: string, opts: ProbeOptions = {}, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, {
      method: 'GET',
      timeout: timeoutMs,
      headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
      ...(u.protocol === 'https:' ? { ca: opts.ca, rejectUnauthorized: !opts.insecure } : {}),
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

/** Polls `url` until it answers 200 or the process dies or `timeoutMs` passes. */
export async function waitReady(name: string, url: string, pid: number, log: string, timeoutMs = 60_000, opts: ProbeOptions = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await probe(url, opts);
    if (r.status === 200) return;
    if (!isAlive(pid)) throw new Error(`${name} exited before it was ready; see ${log}`);
    if (Date.now() > deadline) throw new Error(`${name} not ready after ${timeoutMs} ms (${url} → ${r.status}); see ${log}`);
    await sleep(100);
  }
}
