// Why registerBackend publishes loopback backends as FQDN "<ip>.localhost": the real API server rejects
// loopback IPs in IPv4 EndpointSlices (ValidateNonSpecialIP) but accepts the FQDN form.
import { afterAll, describe, expect, it } from 'vitest';
import { getJson, uniqueName } from '../../helpers/cluster.ts';
import { applyObject, deleteNamespace, registerBackend, unregisterBackend } from '../../testbed/dataplane/registry.ts';
import { kubeconfig } from './helpers.ts';

const ns = uniqueName('dp-reg');

afterAll(async () => {
  await deleteNamespace(kubeconfig(), ns);
});

describe('registerBackend (real API server)', () => {
  it('creates the namespace, a selector-less Service and an FQDN EndpointSlice, idempotently', async () => {
    const reg = { namespace: ns, service: 'web', port: 8080, targetPort: 31234 };
    await registerBackend(kubeconfig(), reg);
    await registerBackend(kubeconfig(), { ...reg, targetPort: 31235 });
    const svc = await getJson<{ spec: { selector?: unknown; ports: Array<{ port: number; targetPort: number }> } }>(['get', 'service', 'web', '-n', ns]);
    expect(svc.spec.selector).toBeUndefined();
    expect(svc.spec.ports[0]).toMatchObject({ port: 8080, targetPort: 31235 });
    const slice = await getJson<{ addressType: string; metadata: { labels: Record<string, string> }; endpoints: Array<{ addresses: string[] }>; ports: Array<{ port: number }> }>(['get', 'endpointslice', 'web', '-n', ns]);
    expect(slice.addressType).toBe('FQDN');
    expect(slice.metadata.labels).toMatchObject({ 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'testbed.cutover.dev' });
    expect(slice.endpoints[0]!.addresses).toEqual(['127.0.0.1.localhost']);
    expect(slice.ports[0]!.port).toBe(31235);
    await unregisterBackend(kubeconfig(), { namespace: ns, service: 'web' });
    await unregisterBackend(kubeconfig(), { namespace: ns, service: 'web' });
  });

  it('the API server refuses loopback IPs in an IPv4 EndpointSlice', async () => {
    const err = await applyObject(kubeconfig(), {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'loopback', namespace: ns, labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['127.0.0.1'] }],
      ports: [{ name: 'http', port: 31234, protocol: 'TCP' }],
    }).then(
      () => null,
      (e: unknown) => e as { code?: number; body?: unknown },
    );
    expect(err?.code).toBe(422);
    expect(JSON.stringify(err?.body)).toMatch(/loopback/);
  });
});
