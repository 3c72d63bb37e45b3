// A TCP forwarder: pods on the real node reach servers of the testbed that listen on 127.0.0.1 only
// (the API server, Prometheus) at the node IP, 10.88.0.1, on the bridge that only this machine and
// its pods are on.
// Usage: node tcp-forward.ts LISTEN_HOST:PORT TARGET_HOST:PORT [LISTEN_HOST:PORT TARGET_HOST:PORT ...]
import { connect, createServer, type Server } from 'node:net';

const args = process.argv.slice(2);
const split = (hp: string | undefined) => {
  const m = /^(.+):(\d+)$/.exec(hp ?? '');
  if (!m || args.length % 2 !== 0) { console.error('usage: tcp-forward.ts LISTEN_HOST:PORT TARGET_HOST:PORT [...]'); process.exit(2); }
  return { host: m[1]!, port: Number(m[2]) };
};
const servers: Server[] = [];
for (let i = 0; i < args.length; i += 2) {
  const from = split(args[i]);
  const to = split(args[i + 1]);
  const server = createServer((client) => {
    const upstream = connect(to.port, to.host);
    client.pipe(upstream).pipe(client);
    const close = () => { client.destroy(); upstream.destroy(); };
    client.on('error', close);
    upstream.on('error', close);
  });
  server.listen(from.port, from.host, () => console.log(`forwarding ${from.host}:${from.port} → ${to.host}:${to.port}`));
  servers.push(server);
}
process.on('SIGTERM', () => { let open = servers.length; for (const s of servers) s.close(() => { if (--open === 0) process.exit(0); }); });
