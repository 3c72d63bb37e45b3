// Notifications against local HTTP servers on 127.0.0.1 that record what they receive: one stands in
// for the GitHub REST API (reached through @octokit/rest's base URL — GitHub is outside this
// machine), the other for a Slack-style webhook receiver.
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { PhaseChange } from '../../../operator/src/notify/change.ts';
import { Notifier, type SecretReader } from '../../../operator/src/notify/notifier.ts';
import { deliverWebhook, webhookBody } from '../../../operator/src/notify/webhook.ts';
import { deploymentState, description } from '../../../operator/src/notify/github.ts';
import { silentLogger } from '../../../operator/src/runtime/logger.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';

interface Recorded { method: string; path: string; headers: IncomingMessage['headers']; body: string; json: Record<string, unknown> }

class Recorder {
  readonly requests: Recorded[] = [];
  server!: Server;
  url = '';
  /** Answers one request; default 200 {}. */
  handler: (r: Recorded, res: ServerResponse) => void = (_r, res) => json(res, 200, {});
  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let parsed: Record<string, unknown> = {};
        try { parsed = body ? JSON.parse(body) as Record<string, unknown> : {}; } catch { /* not JSON */ }
        const r: Recorded = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json: parsed };
        this.requests.push(r);
        this.handler(r, res);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }
  async stop(): Promise<void> { this.server.closeAllConnections(); await new Promise<void>((r) => this.server.close(() => r())); }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A small GitHub: repos, deployments (with payload), deployment statuses, issues. */
function fakeGitHub(rec: Recorder): { deployments: Array<{ id: number; payload: unknown; environment: string; task: string; ref: string }> } {
  const state = { deployments: [] as Array<{ id: number; payload: unknown; environment: string; task: string; ref: string }> };
  rec.handler = (r, res) => {
    const url = new URL(r.path, 'http://x');
    if (r.headers.authorization !== 'token gh-token' && r.headers.authorization !== 'bearer gh-token') return json(res, 401, { message: 'Bad credentials' });
    if (r.method === 'GET' && url.pathname === '/repos/acme/shop') return json(res, 200, { id: 1, name: 'shop', full_name: 'acme/shop', default_branch: 'trunk' });
    if (r.method === 'GET' && url.pathname === '/repos/acme/shop/deployments') {
      return json(res, 200, state.deployments.filter((d) => d.environment === url.searchParams.get('environment') && d.task === url.searchParams.get('task')).reverse());
    }
    if (r.method === 'POST' && url.pathname === '/repos/acme/shop/deployments') {
      const d = { id: 100 + state.deployments.length, payload: r.json.payload, environment: String(r.json.environment), task: String(r.json.task), ref: String(r.json.ref) };
      state.deployments.push(d);
      return json(res, 201, d);
    }
    const m = /^\/repos\/acme\/shop\/deployments\/(\d+)\/statuses$/.exec(url.pathname);
    if (r.method === 'POST' && m) return json(res, 201, { id: 1, state: r.json.state });
    if (r.method === 'POST' && url.pathname === '/repos/acme/shop/issues') return json(res, 201, { number: 7, title: r.json.title });
    return json(res, 404, { message: 'Not Found' });
  };
  return state;
}

const secrets: Record<string, string> = { 'shop/gh:token': 'gh-token', 'shop/hook:key': 'hook-secret' };
const readSecret: SecretReader = async (ns, ref) => secrets[`${ns}/${ref.name}:${ref.key}`];

function change(over: Partial<PhaseChange>): PhaseChange {
  return {
    kind: 'TrafficShift', namespace: 'shop', name: 'listings-read', uid: 'uid-1', run: 'g1',
    from: 'Pending', to: 'Progressing', message: 'step 1/3: weight 10', weight: 10, step: 0, steps: 3,
    at: '2026-01-01T00:00:00.000Z', notify: {}, ...over,
  };
}

const recorders: Recorder[] = [];
afterEach(async () => { for (const r of recorders.splice(0)) await r.stop(); });
async function recorder(): Promise<Recorder> { const r = await new Recorder().start(); recorders.push(r); return r; }


describe('GitHub deployments', () => {
  const github = { owner: 'acme', repo: 'shop', environment: 'production', tokenSecret: { name: 'gh', key: 'token' }, openIssueOnRollback: true };

  it('one deployment per run (default branch as ref), in_progress → success, with the token from the Secret', async () => {
    const gh = await recorder();
    const state = fakeGitHub(gh);
    const n = new Notifier({ readSecret, logger: silentLogger, githubApiUrl: gh.url, registry: new Registry() });
    n.phaseChanged(change({ notify: { github } }));
    n.phaseChanged(change({ from: 'Progressing', to: 'Completed', weight: 100, step: 2, message: 'completed', notify: { github } }));
    await n.flush();
    const calls = gh.requests.map((r) => `${r.method} ${new URL(r.path, 'http://x').pathname}`);
    expect(calls).toEqual([
      'GET /repos/acme/shop/deployments',
      'GET /repos/acme/shop',
      'POST /repos/acme/shop/deployments',
      'POST /repos/acme/shop/deployments/100/statuses',
      'POST /repos/acme/shop/deployments/100/statuses',
    ]);
    expect(gh.requests[2]!.json).toMatchObject({ ref: 'trunk', environment: 'production', task: 'deploy:cutover', auto_merge: false, required_contexts: [], payload: { cutover: { uid: 'uid-1', run: 'g1', namespace: 'shop', name: 'listings-read' } } });
    expect(gh.requests[3]!.json).toMatchObject({ state: 'in_progress', environment: 'production' });
    expect(gh.requests[4]!.json).toMatchObject({ state: 'success', description: 'completed at 100%' });
    expect(state.deployments).toHaveLength(1);
  });

  it('rollback: failure with the reason in the description, and an issue when openIssueOnRollback', async () => {
    const gh = await recorder();
    fakeGitHub(gh);
    const n = new Notifier({ readSecret, logger: silentLogger, githubApiUrl: gh.url, registry: new Registry() });
    n.phaseChanged(change({ notify: { github: { ...github, ref: 'v2.3.0' } } }));
    n.phaseChanged(change({ from: 'Progressing', to: 'RolledBack', weight: 0, message: 'rolled back', rollback: { trigger: 'Alert', reason: 'alert ListingsApiErrors firing' }, notify: { github: { ...github, ref: 'v2.3.0' } } }));
    await n.flush();
    const posts = gh.requests.filter((r) => r.method === 'POST');
    expect(posts[0]!.json.ref).toBe('v2.3.0');
    const failure = posts.find((r) => r.json.state === 'failure');
    expect(failure?.json.description).toBe('rolled back (Alert): alert ListingsApiErrors firing');
    const issue = posts.find((r) => r.path === '/repos/acme/shop/issues');
    expect(issue?.json.title).toBe('Cutover rolled back: shop/listings-read (Alert)');
    expect(String(issue?.json.body)).toContain('alert ListingsApiErrors firing');
    expect(String(issue?.json.body)).toContain('kubectl cutover retry listings-read -n shop');
  });

  it('no issue without openIssueOnRollback; a new process finds the run\'s deployment instead of creating another', async () => {
    const gh = await recorder();
    const state = fakeGitHub(gh);
    const quiet = { ...github, openIssueOnRollback: false };
    const first = new Notifier({ readSecret, logger: silentLogger, githubApiUrl: gh.url, registry: new Registry() });
    first.phaseChanged(change({ notify: { github: quiet } }));
    await first.flush();
    const second = new Notifier({ readSecret, logger: silentLogger, githubApiUrl: gh.url, registry: new Registry() });
    second.phaseChanged(change({ from: 'Progressing', to: 'RolledBack', rollback: { trigger: 'Manual', reason: 'aborted by request 1' }, notify: { github: quiet } }));
    await second.flush();
    expect(state.deployments).toHaveLength(1);
    expect(gh.requests.filter((r) => r.path.endsWith('/statuses')).map((r) => r.json.state)).toEqual(['in_progress', 'failure']);
    expect(gh.requests.some((r) => r.path === '/repos/acme/shop/issues')).toBe(false);
    // A new run (retry) gets its own deployment.
    second.phaseChanged(change({ run: 'g1-retry-2', notify: { github: quiet } }));
    await second.flush();
    expect(state.deployments).toHaveLength(2);
  });

  it('a missing token Secret or a refused token: nothing thrown, nothing blocks, counted as an error', async () => {
    const gh = await recorder();
    fakeGitHub(gh);
    const registry = new Registry();
    const n = new Notifier({ readSecret, logger: silentLogger, githubApiUrl: gh.url, registry, github: { attempts: 1 } });
    n.phaseChanged(change({ notify: { github: { ...github, tokenSecret: { name: 'missing', key: 'token' } } } }));
    secrets['shop/bad:token'] = 'wrong';
    n.phaseChanged(change({ name: 'other', notify: { github: { ...github, tokenSecret: { name: 'bad', key: 'token' } } } }));
    await n.flush();
    expect(await registry.metrics()).toContain('cutover_notifications_total{channel="github",result="error"} 2');
  });

  it('retries a 5xx and a 429 with backoff; any other 4xx is final', async () => {
    const gh = await recorder();
    const state = fakeGitHub(gh);
    const answer = gh.handler;
    const failFirst = new Map<string, number>([['GET /repos/acme/shop/deployments', 502], ['GET /repos/acme/shop', 429]]);
    gh.handler = (r, res) => {
      const k = `${r.method} ${new URL(r.path, 'http://x').pathname}`;
      const status = failFirst.get(k);
      failFirst.delete(k);
      if (status) json(res, status, { message: 'try again' });
      else answer(r, res);
    };
    const registry = new Registry();
    const n = new Notifier({ readSecret, logger: silentLogger, githubApiUrl: gh.url, registry });
    n.phaseChanged(change({ notify: { github } }));
    await n.flush();
    expect(gh.requests.map((r) => `${r.method} ${new URL(r.path, 'http://x').pathname}`)).toEqual([
      'GET /repos/acme/shop/deployments', 'GET /repos/acme/shop/deployments',
      'GET /repos/acme/shop', 'GET /repos/acme/shop',
      'POST /repos/acme/shop/deployments',
      'POST /repos/acme/shop/deployments/100/statuses',
    ]);
    expect(state.deployments).toHaveLength(1);
    gh.handler = (_r, res) => json(res, 422, { message: 'Validation Failed' });
    n.phaseChanged(change({ run: 'g2', notify: { github } }));
    await n.flush();
    expect(gh.requests).toHaveLength(7);
    expect(await registry.metrics()).toContain('cutover_notifications_total{channel="github",result="error"} 1');
  });

  it('a MigrationSlice run: in_progress while shadowing, shifting and stabilizing; success on Completed; failure on Failed or RolledBack', () => {
    const state = (to: string) => deploymentState(change({ kind: 'MigrationSlice', to }));
    expect(['Pending', 'Shadowing', 'Shifting', 'Stabilizing', 'Completed', 'Failed', 'RolledBack'].map(state))
      .toEqual([undefined, 'in_progress', 'in_progress', 'in_progress', 'success', 'failure', 'failure']);
  });

  it('descriptions fit GitHub\'s 140 characters', () => {
    const d = description(change({ to: 'RolledBack', rollback: { trigger: 'Metric', reason: 'x'.repeat(500) } }));
    expect(d.length).toBe(140);
    expect(d.endsWith('…')).toBe(true);
  });
});

describe('outbound webhooks', () => {
  it('Slack-compatible JSON, signed with HMAC-SHA256 over timestamp.body when secretRef is set', async () => {
    const hook = await recorder();
    const n = new Notifier({ readSecret, logger: silentLogger, registry: new Registry() });
    n.phaseChanged(change({ to: 'RolledBack', from: 'Progressing', weight: 0, rollback: { trigger: 'Metric', reason: 'error-rate 0.2 > 0.05' }, notify: { webhooks: [{ url: `${hook.url}/slack` }, { url: `${hook.url}/signed`, secretRef: { name: 'hook', key: 'key' } }] } }));
    await n.flush();
    expect(hook.requests).toHaveLength(2);
    const plain = hook.requests.find((r) => r.path === '/slack')!;
    expect(plain.json.text).toBe(':rotating_light: TrafficShift shop/listings-read rolled back (Metric): error-rate 0.2 > 0.05');
    expect(plain.json.cutover).toMatchObject({ namespace: 'shop', name: 'listings-read', from: 'Progressing', to: 'RolledBack', rollback: { trigger: 'Metric' } });
    expect(plain.headers['x-cutover-signature']).toBeUndefined();
    const signed = hook.requests.find((r) => r.path === '/signed')!;
    const ts = String(signed.headers['x-cutover-timestamp']);
    expect(signed.headers['x-cutover-signature']).toBe(`sha256=${createHmac('sha256', 'hook-secret').update(`${ts}.${signed.body}`).digest('hex')}`);
  });

  it('a secretRef whose Secret is missing: not sent unsigned', async () => {
    const hook = await recorder();
    const n = new Notifier({ readSecret, logger: silentLogger, registry: new Registry() });
    n.phaseChanged(change({ notify: { webhooks: [{ url: hook.url, secretRef: { name: 'nope', key: 'key' } }] } }));
    await n.flush();
    expect(hook.requests).toHaveLength(0);
  });

  it('retries 5xx and 429 with backoff, then succeeds', async () => {
    const hook = await recorder();
    const at: number[] = [];
    hook.handler = (_r, res) => { at.push(performance.now()); json(res, at.length === 1 ? 503 : at.length === 2 ? 429 : 200, {}); };
    const r = await deliverWebhook(hook.url, { text: 'x' }, undefined, { baseDelayMs: 100 });
    expect(r).toMatchObject({ ok: true, attempts: 3, status: 200 });
    // 100 ms then 200 ms, each ±20%; a timer may fire up to 1 ms early by performance.now().
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(79);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(159);
  });

  it('a 4xx refusal is not retried', async () => {
    const hook = await recorder();
    hook.handler = (_r, res) => json(res, 400, {});
    const refused = await deliverWebhook(hook.url, { text: 'x' }, undefined);
    expect(refused).toMatchObject({ ok: false, attempts: 1, status: 400, error: 'refused with HTTP 400' });
    expect(hook.requests).toHaveLength(1);
  });

  it('waits as a Retry-After says, at most maxDelayMs; a retry is signed afresh', async () => {
    const hook = await recorder();
    const at: number[] = [];
    hook.handler = (_r, res) => {
      at.push(performance.now());
      if (at.length > 1) return json(res, 200, {});
      res.writeHead(503, { 'retry-after': '120' });
      res.end();
    };
    let clock = 1_700_000_000_000;
    const r = await deliverWebhook(hook.url, { text: 'x' }, 'hook-secret', { baseDelayMs: 1, maxDelayMs: 300, now: () => (clock += 5000) });
    expect(r).toMatchObject({ ok: true, attempts: 2 });
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(299); // the backoff alone would be about 1 ms
    const [first, second] = hook.requests.map((q) => q.headers['x-cutover-timestamp']);
    expect(Number(second) - Number(first)).toBe(5);
    for (const q of hook.requests) {
      expect(q.headers['x-cutover-signature']).toBe(`sha256=${createHmac('sha256', 'hook-secret').update(`${String(q.headers['x-cutover-timestamp'])}.${q.body}`).digest('hex')}`);
    }
  });

  it('gives up after the attempts when the receiver is down (connection refused)', async () => {
    const hook = await recorder();
    const url = hook.url;
    await hook.stop();
    recorders.pop();
    const r = await deliverWebhook(url, { text: 'x' }, undefined, { attempts: 3, baseDelayMs: 1 });
    expect(r.ok).toBe(false);
    expect(r.attempts).toBe(3);
  });

  it('phaseChanged never waits for delivery, and changes of one resource arrive in order', async () => {
    const hook = await recorder();
    const gate: Array<() => void> = [];
    hook.handler = (_r, res) => { gate.push(() => json(res, 200, {})); };
    const n = new Notifier({ readSecret, logger: silentLogger, registry: new Registry() });
    const webhooks = [{ url: hook.url }];
    // Returns nothing to await (not a promise of delivery); the receiver answers only once `gate` opens, below.
    expect(n.phaseChanged(change({ notify: { webhooks } }))).toBeUndefined();
    expect(n.phaseChanged(change({ from: 'Progressing', to: 'Completed', notify: { webhooks } }))).toBeUndefined();
    const deadline = Date.now() + 2000;
    while (hook.requests.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(hook.requests).toHaveLength(1); // the second waits for the first
    gate.shift()!();
    while (hook.requests.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    gate.shift()!();
    await n.flush();
    expect(hook.requests.map((r) => (r.json.cutover as { to: string }).to)).toEqual(['Progressing', 'Completed']);
  });

  it('the body names the step and weight in its text', () => {
    expect(webhookBody(change({})).text).toBe(':arrows_counterclockwise: TrafficShift shop/listings-read Pending → Progressing (canary weight 10%, step 1/3): step 1/3: weight 10');
  });
});
