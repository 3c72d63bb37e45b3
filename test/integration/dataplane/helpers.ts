// Shared helpers for the data-plane integration tests (real API server, the testbed's gateway process).
import { request as httpRequest } from 'node:http';
import { testbed } from '../../helpers/cluster.ts';
import { startBackend, type BackendHandle, type BackendOptions } from '../../testbed/dataplane/backend.ts';
import { applyObject, deleteNamespace, registerBackend } from '../../testbed/dataplane/registry.ts';
import type { HTTPRouteRule } from '../../testbed/dataplane/routing.ts';

export function kubeconfig(): string {
  return process.env.KUBECONFIG ?? testbed().kubeconfig;
}

export function gatewayUrl(): string {
  return process.env.GATEWAY_URL ?? testbed().gatewayUrl;
}

export interface Fixture {
  namespace: string;
  backends: Map<string, BackendHandle>;
  addBackend: (service: string, opts?: Omit<BackendOptions, 'name'>) => Promise<BackendHandle>;
  applyRoute: (name: string, hostnames: string[], rules: HTTPRouteRule[]) => Promise<void>;
  cleanup: () => Promise<void>;
}

export function fixture(namespace: string): Fixture {
  const backends = new Map<string, BackendHandle>();
  return {
    namespace,
    backends,
    addBackend: async (service, opts = {}) => {
      const b = await startBackend({ name: service, ...opts });
      backends.set(service, b);
      await registerBackend(kubeconfig(), { namespace, service, port: 80, targetPort: b.port });
      return b;
    },
    applyRoute: async (name, hostnames, rules) => {
      await applyObject(kubeconfig(), {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name, namespace },
        spec: { hostnames, rules },
      });
    },
    cleanup: async () => {
      await Promise.all([...backends.values()].map((b) => b.close()));
      await deleteNamespace(kubeconfig(), namespace);
    },
  };
}

/** One request through the gateway with a given Host header (fetch() cannot set Host). */
export function send(host: string, path = '/', init: { method?: string; body?: string } = {}): Promise<{ status: number; body: string; service?: string }> {
  const base = new URL(gatewayUrl());
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: base.hostname, port: base.port, path, method: init.method ?? 'GET', headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        let service: string | undefined;
        try {
          service = (JSON.parse(body) as { service?: string }).service;
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, body, service });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
