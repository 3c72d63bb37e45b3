// freePort hands out server ports from below the kernel's ephemeral range: a component restarted on
// its old port must not find it taken as the source port of some outgoing connection.
import { createServer, connect, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ephemeralPortRange, freePort, SERVER_PORTS } from '../../testbed/procs.ts';

describe('freePort', () => {
  it('a server cannot listen on a port an outgoing connection holds as its source (why the range matters)', async () => {
    const target = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const client = connect((target.address() as { port: number }).port, '127.0.0.1');
    try {
      await new Promise<void>((resolve, reject) => { client.once('connect', resolve); client.once('error', reject); });
      const source = client.localPort!;
      const [lo, hi] = ephemeralPortRange();
      expect(source >= lo && source <= hi).toBe(true);
      const srv = createServer();
      const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => { srv.once('error', resolve); srv.listen(source, '127.0.0.1', () => { srv.close(); resolve(undefined); }); });
      expect(err?.code).toBe('EADDRINUSE');
    } finally {
      client.destroy();
      await new Promise((r) => target.close(r));
    }
  });

  it('hands out distinct ports outside the ephemeral range, each of which a server can listen on', async () => {
    const [lo, hi] = ephemeralPortRange();
    const ports = [];
    for (let i = 0; i < 20; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) {
      expect(port < lo || port > hi).toBe(true);
      expect(port).toBeGreaterThanOrEqual(SERVER_PORTS.min);
      expect(port).toBeLessThanOrEqual(SERVER_PORTS.max);
    }
    const servers: Server[] = [];
    try {
      for (const port of ports) {
        const srv = createServer();
        await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(port, '127.0.0.1', resolve); });
        servers.push(srv);
      }
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
  });
});
