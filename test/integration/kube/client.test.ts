// The kube client against the real kube-apiserver: CRUD, server-side apply and field ownership,
// the status and scale subresources, watch with bookmarks, and error mapping.
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dump, load } from 'js-yaml';
import { KubeClient } from '../../../operator/src/kube/client.ts';
import { USER_AGENT } from '../../../operator/src/kube/transport.ts';
import {
  isAlreadyExists,
  isConflict,
  isGone,
  isInvalid,
  isNotFound,
  isTransient,
  isUnauthorized,
  KubeApiError,
} from '../../../operator/src/kube/errors.ts';
import { CONFIG_MAP, DEPLOYMENT, type KubeObject } from '../../../operator/src/kube/resources.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';
import {
  createTestNamespace,
  deleteTestNamespace,
  ensureKubeTestCrd,
  KUBE_TEST,
  testClient,
  type KubeTestObject,
} from './helpers.ts';

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

let client: KubeClient;
let ns: string;

beforeAll(async () => {
  client = testClient();
  ns = await createTestNamespace(client, 'client');
  await ensureKubeTestCrd(client, ns);
});

afterAll(async () => {
  await deleteTestNamespace(client, ns);
  client.close();
});

const errorOf = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);

describe('KubeClient against kube-apiserver', () => {
  it('creates, gets and lists objects; get of a missing object is undefined', async () => {
    const created = await client.create<ConfigMap>(CONFIG_MAP, {
      metadata: { name: 'crud', namespace: ns, labels: { suite: 'crud' } },
      data: { a: '1' },
    });
    expect(created.metadata.uid).toBeTruthy();
    const got = await client.get<ConfigMap>(CONFIG_MAP, ns, 'crud');
    expect(got?.data).toEqual({ a: '1' });
    expect(await client.get(CONFIG_MAP, ns, 'does-not-exist')).toBeUndefined();
    await client.create(CONFIG_MAP, { metadata: { name: 'crud-2', namespace: ns, labels: { suite: 'crud' } } });
    const listed = await client.list<ConfigMap>(CONFIG_MAP, { namespace: ns, labelSelector: 'suite=crud', pageSize: 1 });
    expect(listed.items.map((i) => i.metadata.name).sort()).toEqual(['crud', 'crud-2']);
    expect(listed.items[0]?.kind).toBe('ConfigMap');
    expect(Number(listed.resourceVersion)).toBeGreaterThan(0);
    expect(await client.delete(CONFIG_MAP, ns, 'crud-2')).toBe(true);
    expect(await client.delete(CONFIG_MAP, ns, 'crud-2')).toBe(false);
  });

  it('server-side apply records field ownership under manager cutover, and shares the object with another manager', async () => {
    await client.apply(CONFIG_MAP, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ssa', namespace: ns }, data: { weight: '10' } });
    // Another manager (a GitOps tool) owns a different key.
    await client.apply(CONFIG_MAP, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ssa', namespace: ns }, data: { owner: 'team-a' } }, { fieldManager: 'gitops' });
    const cm = await client.get<ConfigMap>(CONFIG_MAP, ns, 'ssa');
    expect(cm?.data).toEqual({ weight: '10', owner: 'team-a' });
    const ours = cm?.metadata.managedFields?.find((m) => m.manager === 'cutover');
    expect(ours?.operation).toBe('Apply');
    expect(ours?.fieldsV1).toMatchObject({ 'f:data': { 'f:weight': {} } });
    expect(Object.keys((ours?.fieldsV1?.['f:data'] ?? {}) as object)).not.toContain('f:owner');
    // Re-applying our fields never touches theirs.
    const after = await client.apply<ConfigMap>(CONFIG_MAP, { metadata: { name: 'ssa', namespace: ns }, data: { weight: '50' } });
    expect(after.data).toEqual({ weight: '50', owner: 'team-a' });
  });

  it('apply with force takes over a field owned by another manager (conflict without force)', async () => {
    await client.apply(CONFIG_MAP, { metadata: { name: 'ssa-conflict', namespace: ns }, data: { weight: '0' } }, { fieldManager: 'gitops' });
    const err = await errorOf(client.apply(CONFIG_MAP, { metadata: { name: 'ssa-conflict', namespace: ns }, data: { weight: '10' } }, { force: false }));
    expect(isConflict(err)).toBe(true);
    const forced = await client.apply<ConfigMap>(CONFIG_MAP, { metadata: { name: 'ssa-conflict', namespace: ns }, data: { weight: '10' } });
    expect(forced.data?.weight).toBe('10');
    expect(forced.metadata.managedFields?.find((m) => m.manager === 'cutover')?.fieldsV1).toMatchObject({ 'f:data': { 'f:weight': {} } });
  });

  it('apply rejects unknown fields (fieldValidation=Strict)', async () => {
    const err = await errorOf(
      client.apply(KUBE_TEST, { metadata: { name: 'strict', namespace: ns }, spec: { message: 'x', bogus: true } }),
    );
    expect(err).toBeInstanceOf(KubeApiError);
    // The API server answers 500 ("field not declared in schema"); the kube layer maps it to Invalid.
    expect(isInvalid(err)).toBe(true);
    expect(isTransient(err)).toBe(false);
    expect((err as KubeApiError).message).toMatch(/bogus/);
  });

  it('applies status through the status subresource without touching spec or generation', async () => {
    const created = await client.apply<KubeTestObject>(KUBE_TEST, { metadata: { name: 'status', namespace: ns }, spec: { message: 'hello', replicas: 1 } });
    expect(created.metadata.generation).toBe(1);
    const withStatus = await client.apply<KubeTestObject>(
      KUBE_TEST,
      {
        metadata: { name: 'status', namespace: ns },
        status: {
          phase: 'Progressing',
          observedGeneration: 1,
          conditions: [{ type: 'Ready', status: 'False', reason: 'Progressing', message: 'step 1', lastTransitionTime: '2025-01-01T00:00:00Z' }],
        },
      },
      { subresource: 'status' },
    );
    expect(withStatus.status?.phase).toBe('Progressing');
    expect(withStatus.spec).toEqual({ message: 'hello', replicas: 1 });
    expect(withStatus.metadata.generation).toBe(1);
    const entry = withStatus.metadata.managedFields?.find((m) => m.manager === 'cutover' && m.subresource === 'status');
    expect(entry?.operation).toBe('Apply');
    expect(entry?.fieldsV1).toMatchObject({ 'f:status': { 'f:phase': {} } });
    // A status field in a main-resource apply is ignored by the API server: status only moves via /status.
    const specOnly = await client.apply<KubeTestObject>(KUBE_TEST, { metadata: { name: 'status', namespace: ns }, spec: { message: 'hello', replicas: 2 } });
    expect(specOnly.metadata.generation).toBe(2);
    expect(specOnly.status?.phase).toBe('Progressing');
  });

  it('merge patch, JSON patch and the Deployment scale subresource', async () => {
    await client.create(CONFIG_MAP, { metadata: { name: 'patch', namespace: ns }, data: { flag: 'false' } });
    const merged = await client.mergePatch<ConfigMap>(CONFIG_MAP, ns, 'patch', { data: { flag: 'true', extra: 'x' } });
    expect(merged.data).toEqual({ flag: 'true', extra: 'x' });
    const patched = await client.jsonPatch<ConfigMap>(CONFIG_MAP, ns, 'patch', [
      { op: 'test', path: '/data/flag', value: 'true' },
      { op: 'remove', path: '/data/extra' },
    ]);
    expect(patched.data).toEqual({ flag: 'true' });

    await client.create(DEPLOYMENT, {
      metadata: { name: 'worker', namespace: ns },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'worker' } },
        template: { metadata: { labels: { app: 'worker' } }, spec: { containers: [{ name: 'w', image: 'example.invalid/worker:1' }] } },
      },
    });
    const scale = await client.get<KubeObject & { spec?: { replicas?: number } }>(DEPLOYMENT, ns, 'worker', { subresource: 'scale' });
    expect(scale?.kind).toBe('Scale');
    expect(scale?.spec?.replicas ?? 0).toBe(0); // omitempty
    await client.mergePatch(DEPLOYMENT, ns, 'worker', { spec: { replicas: 3 } }, { subresource: 'scale' });
    const deployment = await client.get<KubeObject & { spec?: { replicas?: number } }>(DEPLOYMENT, ns, 'worker');
    expect(deployment?.spec?.replicas).toBe(3);
  });

  it('maps API errors: not found, already exists, conflict, invalid, unauthorized', async () => {
    expect(isNotFound(await errorOf(client.mergePatch(CONFIG_MAP, ns, 'nope', { data: { a: 'b' } })))).toBe(true);

    await client.create(CONFIG_MAP, { metadata: { name: 'errors', namespace: ns } });
    const exists = await errorOf(client.create(CONFIG_MAP, { metadata: { name: 'errors', namespace: ns } }));
    expect(isAlreadyExists(exists)).toBe(true);
    expect(isConflict(exists)).toBe(true);

    const current = await client.get<ConfigMap>(CONFIG_MAP, ns, 'errors');
    await client.mergePatch(CONFIG_MAP, ns, 'errors', { data: { v: '1' } });
    const stale = await errorOf(client.replace(CONFIG_MAP, { ...current!, data: { v: 'stale' } }));
    expect(isConflict(stale)).toBe(true);
    expect((stale as KubeApiError).reason).toBe('Conflict');

    const invalid = await errorOf(client.create(CONFIG_MAP, { metadata: { name: 'Not_A_Valid_Name', namespace: ns } }));
    expect(isInvalid(invalid)).toBe(true);
    expect((invalid as KubeApiError).details?.causes?.some((c) => c.field === 'metadata.name')).toBe(true);

    const badToken = clientWithToken('not-a-valid-token');
    try {
      expect(isUnauthorized(await errorOf(badToken.get(CONFIG_MAP, ns, 'errors')))).toBe(true);
    } finally {
      badToken.close();
    }
  });

  it('watches with bookmarks and reports a too-old resourceVersion as 410 Gone', async () => {
    const { resourceVersion } = await client.list(KUBE_TEST, { namespace: ns });
    const abort = new AbortController();
    const seen: string[] = [];
    setTimeout(() => {
      void client.apply(KUBE_TEST, { metadata: { name: 'watched', namespace: ns }, spec: { message: 'w' } });
    }, 200);
    // The API server sends a bookmark shortly (≈2 s) before a watch's timeout.
    for await (const ev of client.watch<KubeTestObject>(KUBE_TEST, { namespace: ns, resourceVersion, timeoutSeconds: 4, signal: abort.signal })) {
      seen.push(ev.type === 'BOOKMARK' ? 'BOOKMARK' : `${ev.type} ${ev.object.metadata.name}`);
      expect(ev.object.metadata.resourceVersion).toBeTruthy();
    }
    expect(seen).toContain('ADDED watched');
    expect(seen).toContain('BOOKMARK');

    // The watch cache of a new CRD starts at a recent revision: resourceVersion 1 is too old.
    const err = await errorOf((async () => {
      for await (const _ev of client.watch(KUBE_TEST, { namespace: ns, resourceVersion: '1', timeoutSeconds: 10 })) {
        // nothing expected
      }
    })());
    expect(isGone(err)).toBe(true);
  });

  it('identifies itself as cutover/<version>', () => {
    expect(client.userAgent).toBe(USER_AGENT);
    expect(USER_AGENT).toMatch(/^cutover\/\d+\.\d+\.\d+/);
  });
});

/** A client with the testbed's server and CA but another bearer token. */
function clientWithToken(token: string): KubeClient {
  const config = load(readFileSync(process.env.KUBECONFIG!, 'utf8')) as {
    users: Array<{ user: Record<string, unknown> }>;
  };
  for (const u of config.users) u.user = { token };
  const dir = mkdtempSync(join(tmpdir(), 'cutover-kube-test-'));
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, dump(config));
  return KubeClient.load({ kubeconfig: path, registry: new Registry() });
}
