// Shared helpers of the kube-layer integration tests: a client on the testbed's API server
// (KUBECONFIG, set by test/testbed/global-setup.ts), a private namespace, and a small test CRD
// with a status subresource (so these tests do not depend on the cutover CRDs).
import { randomBytes } from 'node:crypto';
import { KubeClient } from '../../../operator/src/kube/client.ts';
import {
  CUSTOM_RESOURCE_DEFINITION,
  NAMESPACE,
  resourceType,
  type KubeObject,
} from '../../../operator/src/kube/resources.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';

/** A test kind: namespaced, status subresource, a structural schema (so Strict validation bites). */
export const KUBE_TEST = resourceType('kubetest.cutover.dev', 'v1', 'kubetests', 'KubeTest');

export interface KubeTestObject extends KubeObject {
  spec?: { message?: string; replicas?: number };
  status?: {
    phase?: string;
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }>;
  };
}

export function testClient(): KubeClient {
  const kubeconfig = process.env.KUBECONFIG;
  if (!kubeconfig) throw new Error('KUBECONFIG is not set: run these tests in the vitest `cluster` project (the testbed sets it)');
  return KubeClient.load({ kubeconfig, registry: new Registry() });
}

export async function createTestNamespace(client: KubeClient, purpose: string): Promise<string> {
  const name = `kube-test-${purpose}-${randomBytes(3).toString('hex')}`;
  await client.create(NAMESPACE, { metadata: { name, labels: { 'cutover.dev/test': 'kube' } } });
  return name;
}

export async function deleteTestNamespace(client: KubeClient, name: string | undefined): Promise<void> {
  if (name) await client.delete(NAMESPACE, undefined, name, { propagationPolicy: 'Background' });
}

const KUBE_TEST_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'kubetests.kubetest.cutover.dev' },
  spec: {
    group: 'kubetest.cutover.dev',
    scope: 'Namespaced',
    names: { plural: 'kubetests', singular: 'kubetest', kind: 'KubeTest', listKind: 'KubeTestList' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', properties: { message: { type: 'string' }, replicas: { type: 'integer' } } },
              status: {
                type: 'object',
                properties: {
                  phase: { type: 'string' },
                  observedGeneration: { type: 'integer', format: 'int64' },
                  conditions: {
                    type: 'array',
                    'x-kubernetes-list-type': 'map',
                    'x-kubernetes-list-map-keys': ['type'],
                    items: {
                      type: 'object',
                      required: ['type', 'status'],
                      properties: {
                        type: { type: 'string' },
                        status: { type: 'string' },
                        reason: { type: 'string' },
                        message: { type: 'string' },
                        lastTransitionTime: { type: 'string', format: 'date-time' },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
};

/** Applies the test CRD (idempotent) and waits until it is Established and served. */
export async function ensureKubeTestCrd(client: KubeClient, namespace: string): Promise<void> {
  await client.apply(CUSTOM_RESOURCE_DEFINITION, KUBE_TEST_CRD, { fieldManager: 'cutover-kube-tests' });
  await waitFor(async () => {
    const crd = await client.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>(
      CUSTOM_RESOURCE_DEFINITION, undefined, KUBE_TEST_CRD.metadata.name,
    );
    return crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
  }, 30_000, 'CRD kubetests.kubetest.cutover.dev Established');
  // Discovery and the handler can lag behind the condition by a moment.
  await waitFor(async () => {
    try {
      await client.list(KUBE_TEST, { namespace });
      return true;
    } catch {
      return false;
    }
  }, 30_000, 'kubetests served');
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
