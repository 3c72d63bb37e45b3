// /readyz under hook abuse: while both hooks are flooded with refused requests (no or wrong
// credentials, malformed JSON, oversized bodies, bad signatures; 200/s, at most 40 in flight), /readyz is probed
// every 25 ms next to a control — a bare node:http server in its own process, probed the same way
// at the same moments. A probe during which the control itself was slow (≥ 50 ms: the machine
// stalled, not the operator) is reported but not counted. The e2e suite (resilience-hooks) checks
// that every probe is answered 200; the latency is a target measured here (DESIGN §6), not asserted.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import type { TestbedInfo } from '../testbed/testbed.ts';
import { dist, log, percentile, sleep, startOperator, type Dist } from './lib.ts';

export interface ReadyzResult {
  seconds: number;
  /** Hook requests sent per second (paced; at most 40 in flight). */
  rate: number;
  /** Hook requests sent during the run, by status code (0: no answer). */
  hookCodes: Record<number, number>;
  probes: number;
  /** Probes whose control answered within 50 ms. */
  fair: number;
  /** /readyz latency of the fair probes. */
  readyzMs: Dist & { p95: number };
  /** Probes not answered 200 (should be 0; the e2e suite fails on one). */
  failed: number;
}

const TOKEN = 'bench-readyz-token';
const SECRET = 'bench-readyz-hmac';
/** Hook requests per second (the hooks allow 20/s per caller: most of these are refused 429). */
const RATE = 200;

/** One GET; resolves its time in ms, or Infinity when it was not answered 200. */
function timedGet(url: string): Promise<number> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request(url, { timeout: 5000, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? performance.now() - t0 : Infinity));
    });
    req.on('error', () => resolve(Infinity));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function post(url: string, headers: Record<string, string>, body: string | Buffer): Promise<number> {
  return new Promise((resolve) => {
    let status = 0;
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, timeout: 10_000 }, (res) => {
      status = res.statusCode ?? 0;
      res.resume();
      res.on('end', () => resolve(status));
    });
    // A refused upload may reset the connection while we still write: take the answer if it came.
    req.on('error', () => setTimeout(() => resolve(status), status ? 0 : 200));
    req.on('timeout', () => req.destroy());
    req.end(body);
  });
}

export async function readyzBench(info: TestbedInfo, opts: { seconds?: number } = {}): Promise<ReadyzResult> {
  const seconds = opts.seconds ?? 30;
  log(`/readyz under hook abuse: ${seconds} s`);
  const op = await startOperator(info, { name: 'bench-readyz', namespaces: ['bench-readyz-none'], env: { CUTOVER_ALERTMANAGER_TOKEN: TOKEN, CUTOVER_WEBHOOK_HMAC_SECRET: SECRET } });
  const control = spawn(process.execPath, ['-e', "require('http').createServer((q,r)=>r.end('ok')).listen(0,'127.0.0.1',function(){console.log(this.address().port)})"], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const controlUrl = await new Promise<string>((resolve) => control.stdout.once('data', (d: Buffer) => resolve(`http://127.0.0.1:${String(d).trim()}/`)));
    const end = performance.now() + seconds * 1000;
    const probes: Array<{ ms: number; control: number }> = [];
    const prober = (async () => {
      while (performance.now() < end) {
        const [ms, c] = await Promise.all([timedGet(`${op.url}/readyz`), timedGet(controlUrl)]);
        probes.push({ ms, control: c });
        await sleep(25);
      }
    })();
    const big = Buffer.alloc(2 << 20, 'a');
    const alert = JSON.stringify({ version: '4', status: 'firing', receiver: 'cutover', groupKey: 'x', alerts: [{ status: 'firing', labels: { alertname: 'Abuse', namespace: 'nobody' }, startsAt: new Date().toISOString(), fingerprint: 'fp' }] });
    const kinds: Array<() => Promise<number>> = [
      () => post(`${op.url}/hooks/alertmanager`, {}, alert),
      () => post(`${op.url}/hooks/alertmanager`, { authorization: `Bearer not-${TOKEN}` }, alert),
      () => post(`${op.url}/hooks/alertmanager`, { authorization: `Bearer ${TOKEN}` }, '{"alerts": ['),
      () => post(`${op.url}/hooks/alertmanager`, { authorization: `Bearer ${TOKEN}` }, big),
      () => {
        const ts = Math.floor(Date.now() / 1000);
        const body = JSON.stringify({ namespace: 'nobody', name: 'x', reason: 'abuse' });
        return post(`${op.url}/hooks/rollback`, { 'x-cutover-timestamp': String(ts), 'x-cutover-signature': `sha256=${createHmac('sha256', 'wrong').update(`${ts}.${body}`).digest('hex')}` }, body);
      },
    ];
    // Paced, as an abusive client would be (not as fast as this process can send): RATE requests/s,
    // at most 40 in flight; one in KINDS.length is a 2 MiB upload.
    const hookCodes: Record<number, number> = {};
    const inFlight = new Set<Promise<void>>();
    for (let n = 0; performance.now() < end; n++) {
      if (inFlight.size < 40) {
        const p: Promise<void> = kinds[n % kinds.length]!().then((code) => { hookCodes[code] = (hookCodes[code] ?? 0) + 1; inFlight.delete(p); });
        inFlight.add(p);
      }
      await sleep(1000 / RATE);
    }
    await Promise.all(inFlight);
    await prober;
    const fair = probes.filter((p) => p.control < 50 && Number.isFinite(p.ms)).map((p) => p.ms);
    const failed = probes.filter((p) => !Number.isFinite(p.ms)).length;
    const readyzMs = { ...dist(fair), p95: Math.round(percentile(fair, 95) * 10) / 10 };
    log(`/readyz: ${probes.length} probes, ${fair.length} fair, p50 ${readyzMs.p50} ms, p95 ${readyzMs.p95} ms, max ${readyzMs.max} ms, ${failed} unanswered; hooks ${JSON.stringify(hookCodes)}`);
    return { seconds, rate: RATE, hookCodes, probes: probes.length, fair: fair.length, readyzMs, failed };
  } finally {
    control.kill('SIGKILL');
    await op.stop();
  }
}
