// The HTTP flag provider against a real HTTP server on 127.0.0.1 (the application's admin endpoint):
// the request the playbook's curl makes, the token from the Secret reader, got's retry with backoff,
// the answer kept, and failures that name the field to fix.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureFlagSchema } from '../../../operator/src/api/migrationslice.ts';
import { FlagWriteError, HttpFlagProvider, flagIdentity, renderFlagBody } from '../../../operator/src/flags/index.ts';

interface Seen { method: string; auth: string | undefined; body: string; type: string | undefined }
let server: Server;
let base = '';
const seen: Seen[] = [];
/** Answers per path: /flaky 503 then 200, /down always 500, /auth 200 only with the right token. */
let flaky = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString('utf8'); });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', auth: req.headers.authorization, body, type: req.headers['content-type'] });
      const status = req.url === '/flaky' ? (flaky++ === 0 ? 503 : 200) : req.url === '/down' ? 500 : req.headers.authorization === 'Bearer s3cret' ? 200 : 401;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 200 ? '{"ok":true}' : `{"error":"status ${status}"}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => { server.close(); });

const flag = (path: string, extra: Record<string, unknown> = {}) => FeatureFlagSchema.parse({
  http: { url: `${base}${path}`, tokenSecretRef: { name: 'admin', key: 'token' }, body: '{"flag":"v2_enabled","enabled":{{value}}}', ...extra },
});
const provider = (token: string | null = 's3cret') => new HttpFlagProvider({ readSecret: async () => token ?? undefined, baseDelayMs: 10, maxDelayMs: 20 });

describe('HttpFlagProvider', () => {
  it('renders {{value}} as a JSON literal', () => {
    expect(renderFlagBody('{"flag":"v2","enabled":{{value}}}', 'true')).toBe('{"flag":"v2","enabled":true}');
    expect(renderFlagBody('{"share": {{ value }} }', '50')).toBe('{"share": 50 }');
  });

  it('POSTs the body with the bearer token; a 503 is retried and the answer kept', async () => {
    seen.length = 0;
    const answer = await provider().set('shop', flag('/flaky'), 'true');
    expect(answer).toEqual({ status: 200, attempts: 2, body: '{"ok":true}' });
    expect(seen).toEqual([
      { method: 'POST', auth: 'Bearer s3cret', body: '{"flag":"v2_enabled","enabled":true}', type: 'application/json' },
      { method: 'POST', auth: 'Bearer s3cret', body: '{"flag":"v2_enabled","enabled":true}', type: 'application/json' },
    ]);
  });

  it('an endpoint that keeps failing: FlagWriteError with the answer and the attempts', async () => {
    const err = await provider().set('shop', flag('/down', { retries: 2 }), 'true').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlagWriteError);
    expect(err).toMatchObject({ field: 'spec.featureFlag.http', reason: 'FlagNotSet', answer: { status: 500, attempts: 3, body: '{"error":"status 500"}' } });
    expect((err as Error).message).toBe(`POST ${base}/down answered HTTP 500 (3 attempts): {"error":"status 500"}`);
  });

  it('a refused token names tokenSecretRef; a missing Secret too, without calling', async () => {
    const refused = await provider('wrong').set('shop', flag('/auth'), 'false').catch((e: unknown) => e);
    expect(refused).toMatchObject({ field: 'spec.featureFlag.http.tokenSecretRef', answer: { status: 401, attempts: 1 } });
    seen.length = 0;
    const missing = await provider(null).set('shop', flag('/auth'), 'false').catch((e: unknown) => e);
    expect(missing).toMatchObject({ field: 'spec.featureFlag.http.tokenSecretRef', reason: 'SecretNotFound' });
    expect(seen).toEqual([]);
    expect(await provider(null).read('shop', flag('/auth'))).toMatchObject({ problem: { field: 'spec.featureFlag.http.tokenSecretRef', reason: 'SecretNotFound' } });
  });

  it('nothing listening: unreachable, named by url', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const f = FeatureFlagSchema.parse({ http: { url: `http://127.0.0.1:${port}/admin/flags`, body: '{"enabled":{{value}}}', retries: 1 } });
    const err = await provider().set('shop', f, 'true').catch((e: unknown) => e);
    expect(err).toMatchObject({ field: 'spec.featureFlag.http.url', reason: 'FlagNotSet' });
    expect((err as Error).message).toMatch(/unreachable: ECONNREFUSED \(2 attempts\)$/);
  });

  it('restores to the off value (an endpoint cannot be read)', async () => {
    seen.length = 0;
    await provider().restore('shop', FeatureFlagSchema.parse({ http: { url: `${base}/auth`, tokenSecretRef: { name: 'a', key: 'b' }, body: '{"share":{{value}}}' }, mode: 'Percentage' }), undefined);
    expect(seen.map((s) => s.body)).toEqual(['{"share":0}']);
  });

  it('two slices drive the same flag when they name the same key, flag or request', () => {
    const cm = FeatureFlagSchema.parse({ configMap: 'flags', key: 'a' });
    expect(flagIdentity('shop', cm)).toBe(flagIdentity('shop', FeatureFlagSchema.parse({ configMap: 'flags', key: 'a', mode: 'Percentage' })));
    expect(flagIdentity('shop', cm)).not.toBe(flagIdentity('other', cm));
    const h = (body: string) => flagIdentity('shop', FeatureFlagSchema.parse({ http: { url: 'http://a/admin/flags', body } }));
    expect(h('{"flag":"x","on":{{value}}}')).toBe(h('{"flag":"x","on":{{ value }}}'));
    expect(h('{"flag":"x","on":{{value}}}')).not.toBe(h('{"flag":"y","on":{{value}}}'));
  });
});
