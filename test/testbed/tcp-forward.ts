// A TCP forwarder: pods on the real node reach the API server (which listens on 127.0.0.1 only)
// at the node IP, 10.88.0.1, on the bridge that only this machine and its pods are on.
// Usage: node tcp-forward.ts LISTEN_HOST:PORT TARGET_HOST:PORT
import { connect, createServer } from 'node:net';

const [listen, target] = process.argv.slice(2);
const split = (hp: string | undefined) => {
  const m = /^(.+):(\d+)$/.exec(hp ?? '');
  if (!m) { console.error('usage: tcp-forward.ts LISTEN_HOST:PORT TARGET_HOST:PORT'); process.exit(2); }
  return { host: m[1]!, port: Number(m[2]) };
};
const from = split(listen);
const to = split(target);
const server = createServer((client) => {
  const upstream = connect(to.port, to.host);
  client.pipe(upstream).pipe(client);
  const close = () => { client.destroy(); upstream.destroy(); };
  client.on('error', close);
  upstream.on('error', close);
});
server.listen(from.port, from.host, () => console.log(`forwarding ${from.host}:${from.port} → ${to.host}:${to.port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
