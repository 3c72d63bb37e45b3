// Small helpers shared by the data-plane processes: flag parsing, loopback listen addresses,
// the one-line JSON "ready" handshake on stdout, and spawning a process until its ready line.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';

export type Flags = Record<string, string[]>;

/** Parses `--name value`, `--name=value` and bare `--flag` (value "true"). Repeated flags accumulate. */
export function parseFlags(argv: readonly string[]): Flags {
  const out: Flags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    let name: string;
    let value: string;
    if (eq >= 0) {
      name = arg.slice(2, eq);
      value = arg.slice(eq + 1);
    } else {
      name = arg.slice(2);
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        value = next;
        i++;
      } else {
        value = 'true';
      }
    }
    (out[name] ??= []).push(value);
  }
  return out;
}

export function flag(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return v === undefined ? undefined : v[v.length - 1];
}

export function requiredFlag(flags: Flags, name: string): string {
  const v = flag(flags, name);
  if (v === undefined || v === '') throw new Error(`missing required flag --${name}`);
  return v;
}

export function numberFlag(flags: Flags, name: string, fallback: number): number {
  const v = flag(flags, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

export interface ListenAddress {
  host: string;
  port: number;
}

/** "127.0.0.1:8080", "127.0.0.1:0", ":0" or "8080". Only loopback hosts are accepted, and in a pod its own IP. */
export function parseListen(value: string | undefined, fallback: ListenAddress = { host: '127.0.0.1', port: 0 }): ListenAddress {
  if (value === undefined || value === '') return fallback;
  let host = fallback.host;
  let portText = value;
  const colon = value.lastIndexOf(':');
  if (colon >= 0) {
    host = value.slice(0, colon) || fallback.host;
    portText = value.slice(colon + 1);
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid listen address ${JSON.stringify(value)}`);
  // In a pod (backends.ts), its own IP on the node's bridge, given by the downward API as POD_IP.
  if (!isLoopbackHost(host) && !(process.env.POD_IP && host === process.env.POD_IP)) throw new Error(`refusing to listen on non-loopback host ${JSON.stringify(host)}`);
  return { host, port };
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Parses "30s", "500ms", "2m", "1h" or a bare number of seconds into milliseconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new Error(`invalid duration ${JSON.stringify(value)}`);
  const n = Number(m[1]);
  switch (m[2]) {
    case 'ms':
      return n;
    case 'm':
      return n * 60_000;
    case 'h':
      return n * 3_600_000;
    default:
      return n * 1000;
  }
}

export function listen(server: Server, addr: ListenAddress): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(addr.port, addr.host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export function printReady(fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ ready: true, ...fields }) + '\n');
}

/** Runs `main`, printing errors to stderr and exiting 1 on failure; SIGTERM/SIGINT call `stop`. */
export function runMain(main: () => Promise<{ stop: () => Promise<void> } | void>): void {
  main().then(
    (handle) => {
      if (!handle) return;
      let stopping = false;
      const onSignal = (): void => {
        if (stopping) return;
        stopping = true;
        handle.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

export interface SpawnedProcess<R> {
  child: ChildProcess;
  ready: R;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop: (graceMs?: number) => Promise<void>;
}

/**
 * Spawns `node <script> ...args` and resolves with the parsed `{"ready":true,...}` line from stdout.
 * Stderr is forwarded to `onStderr` (default: discarded after the ready line, kept for error messages).
 */
export function spawnUntilReady<R extends { ready: true }>(
  script: string,
  args: readonly string[],
  opts: { timeoutMs?: number; onStderr?: (line: string) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<SpawnedProcess<R>> {
  const child = spawn(process.execPath, [script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  });
  const stderrTail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 40) stderrTail.shift();
    opts.onStderr?.(line);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (graceMs = 5000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop(0);
      reject(new Error(`${script} not ready after ${opts.timeoutMs ?? 30_000} ms:\n${stderrTail.join('\n')}`));
    }, opts.timeoutMs ?? 30_000);
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        return;
      }
      if (parsed && typeof parsed === 'object' && (parsed as { ready?: unknown }).ready === true) {
        clearTimeout(timer);
        resolve({ child, ready: parsed as R, stop });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code ?? signal}) before ready:\n${stderrTail.join('\n')}`));
    });
  });
}
