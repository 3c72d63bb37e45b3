// Notifications from the operator process: a TrafficShift and a MigrationSlice with spec.notify run
// on the testbed and their phase changes reach a webhook receiver and a GitHub stand-in (both local HTTP servers that
// record requests; GitHub itself is outside this machine — the operator reaches the stand-in through
// --github-api-url).
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, ERROR_RATE_QUERY, shiftYaml, waitPhase, type Scenario } from '../helpers/scenario.ts';

interface Req { method: string; path: string; headers: Record<string, string | string[] | undefined>; body: string; json: Record<string, unknown> }

const NS = uniqueName('notify');
const NS2 = uniqueName('notify-ms');
let operator: OperatorProcess;
let server: Server;
let base = '';
const requests: Req[] = [];
let s: Scenario;
let s2: Scenario;

beforeAll(async () => {
  let nextId = 500;
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      const r: Req = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json: body ? JSON.parse(body) as Record<string, unknown> : {} };
      requests.push(r);
      const send = (status: number, v: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(v)); };
      const path = new URL(r.path, 'http://x').pathname;
      if (path === '/hook') return send(200, { ok: true });
      // Two repositories: acme/shop (the TrafficShift), acme/slices (the MigrationSlice).
      if (/^\/repos\/acme\/(shop|slices)\/deployments$/.test(path) && r.method === 'GET') return send(200, []);
      if (/^\/repos\/acme\/(shop|slices)\/deployments$/.test(path) && r.method === 'POST') return send(201, { id: nextId++ });
      if (/^\/repos\/acme\/(shop|slices)\/deployments\/\d+\/statuses$/.test(path)) return send(201, { id: 1 });
      if (/^\/repos\/acme\/(shop|slices)\/issues$/.test(path)) return send(201, { number: 1 });
      send(404, { message: 'Not Found' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  operator = await startOperator(testbed(), { name: 'notify', namespaces: [NS, NS2], extraArgs: ['--github-api-url', base] });
  s = await createScenario({ prefix: 'notify', ns: NS });
  s2 = await createScenario({ prefix: 'notify-ms', ns: NS2 });
  s.startLoad(20, 300);
  s2.startLoad(20, 300);
  for (const ns of [NS, NS2]) {
    await kubectlOk(['create', 'secret', 'generic', 'github-token', '-n', ns, '--from-literal=token=gh-e2e-token']);
    await kubectlOk(['create', 'secret', 'generic', 'hook-key', '-n', ns, '--from-literal=hmac=hook-e2e-secret']);
  }
});

afterAll(async () => {
  await operator?.stop();
  await s?.cleanup();
  await s2?.cleanup();
  server?.closeAllConnections();
  await new Promise<void>((r) => server?.close(() => r()));
});

describe('spec.notify from the operator', () => {
  it('a rolled-back shift: signed webhooks on each phase change; a GitHub deployment in_progress → failure and an issue', async () => {
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', {
      steps: [[10, '10m'], [100, '10m']],
      metrics: `      - name: error-rate
        prometheus:
          query: '${ERROR_RATE_QUERY}'
        max: 0.5`,
      extra: `  notify:
    github: {owner: acme, repo: shop, environment: testbed, ref: main, tokenSecret: {name: github-token, key: token}, openIssueOnRollback: true}
    webhooks:
      - url: ${base}/hook
        secretRef: {name: hook-key, key: hmac}`,
    }));
    await eventually('first step', async () => (await s.shift('listings-read')).status?.currentWeight === 10, 60_000);
    await kubectlOk(['annotate', 'trafficshift', 'listings-read', '-n', NS, 'cutover.dev/abort=notify-1', '--overwrite']);
    await waitPhase(s, 'listings-read', ['RolledBack'], 30_000);

    const hooks = await eventually('webhook for RolledBack', async () => {
      const h = requests.filter((r) => r.path === '/hook' && (r.json.cutover as { namespace: string }).namespace === NS);
      return h.some((r) => (r.json.cutover as { to: string }).to === 'RolledBack') ? h : undefined;
    }, 30_000, 100);
    expect(hooks.map((r) => (r.json.cutover as { to: string }).to)).toEqual(['Progressing', 'RolledBack']);
    const last = hooks.at(-1)!;
    expect(last.json.text).toContain(`TrafficShift ${NS}/listings-read rolled back (Manual): aborted by request notify-1`);
    const ts = String(last.headers['x-cutover-timestamp']);
    expect(last.headers['x-cutover-signature']).toBe(`sha256=${createHmac('sha256', 'hook-e2e-secret').update(`${ts}.${last.body}`).digest('hex')}`);

    const gh = await eventually('GitHub issue', async () => (requests.some((r) => r.path === '/repos/acme/shop/issues') ? requests.filter((r) => r.path.startsWith('/repos/acme/shop/')) : undefined), 30_000, 100);
    expect(gh.every((r) => r.headers.authorization === 'token gh-e2e-token')).toBe(true);
    const created = gh.filter((r) => r.method === 'POST' && r.path === '/repos/acme/shop/deployments');
    expect(created).toHaveLength(1);
    expect(created[0]!.json).toMatchObject({ ref: 'main', environment: 'testbed', payload: { cutover: { namespace: NS, name: 'listings-read', run: 'g1' } } });
    expect(gh.filter((r) => r.path.endsWith('/statuses')).map((r) => [r.json.state, r.json.description])).toEqual([
      ['in_progress', 'Progressing: step 1/2: weight 10'],
      ['failure', 'rolled back (Manual): aborted by request notify-1'],
    ]);
    expect(String(gh.find((r) => r.path === '/repos/acme/shop/issues')!.json.title)).toBe(`Cutover rolled back: ${NS}/listings-read (Manual)`);
  });

  it('a MigrationSlice notifies for itself (one deployment per slice run: Shifting → RolledBack); its TrafficShift sends nothing', async () => {
    await kubectlOk(['apply', '--server-side', '-f', '-'], `apiVersion: cutover.dev/v1alpha1
kind: MigrationSlice
metadata: {name: listings, namespace: ${NS2}}
spec:
  owner: team-listings
  rollbackPlan: route back to the monolith
  legacy: {service: ${s2.stable}, port: 8080}
  target: {service: ${s2.canary}, port: 8080}
  route:
    httpRoute: {name: listings}
  shift:
    steps:
      - {weight: 10, pause: 10m}
      - {weight: 100, pause: 10m}
  notify:
    github: {owner: acme, repo: slices, environment: testbed, ref: main, tokenSecret: {name: github-token, key: token}, openIssueOnRollback: true}
    webhooks:
      - url: ${base}/hook
        secretRef: {name: hook-key, key: hmac}
`);
    await eventually('slice shifting at 10%', async () => (await s2.routeWeights())[s2.canary] === 10, 60_000);
    await kubectlOk(['annotate', 'migrationslice', 'listings', '-n', NS2, 'cutover.dev/abort=notify-ms-1', '--overwrite']);
    const hooks = await eventually('slice webhook for RolledBack', async () => {
      const h = requests.filter((r) => r.path === '/hook' && (r.json.cutover as { namespace: string }).namespace === NS2);
      return h.some((r) => (r.json.cutover as { to: string }).to === 'RolledBack') ? h : undefined;
    }, 30_000, 100);
    const gh = await eventually('GitHub issue for the slice', async () => (requests.some((r) => r.path === '/repos/acme/slices/issues') ? requests.filter((r) => r.path.startsWith('/repos/acme/slices/')) : undefined), 30_000, 100);
    await new Promise((r) => setTimeout(r, 1000)); // anything the child shift would have sent
    const mine = requests.filter((r) => r.path === '/hook' && (r.json.cutover as { namespace: string }).namespace === NS2);
    expect(mine.map((r) => [(r.json.cutover as { kind: string }).kind, (r.json.cutover as { to: string }).to])).toEqual([['MigrationSlice', 'Shifting'], ['MigrationSlice', 'RolledBack']]);
    expect(hooks.at(-1)!.json.text).toContain(`MigrationSlice ${NS2}/listings rolled back (Manual): aborted by request notify-ms-1`);
    const created = gh.filter((r) => r.method === 'POST' && r.path === '/repos/acme/slices/deployments');
    expect(created).toHaveLength(1);
    expect(created[0]!.json).toMatchObject({ ref: 'main', environment: 'testbed', payload: { cutover: { namespace: NS2, name: 'listings', run: 'g1' } } });
    expect(gh.filter((r) => r.path.endsWith('/statuses')).map((r) => r.json.state)).toEqual(['in_progress', 'failure']);
  });
});
