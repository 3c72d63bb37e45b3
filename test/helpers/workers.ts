// Worker Deployments for shifts with `spec.workers`: KWOK runs their pods and reports them Ready,
// so scaling through the scale subresource is exercised for real.
import { eventually, getJson, kubectlOk } from './cluster.ts';

/** `spec.workers` for shiftYaml's `extra`: score-worker to 3 before the first weight, monolith-worker to 0 at the end. */
export const workersYaml = `  workers:
    - deployment: score-worker
      replicas: 3
      legacy: {deployment: monolith-worker, replicas: 0}
`;

/** Creates score-worker (0 replicas) and monolith-worker (2, waited Ready) in `ns`. */
export async function applyWorkers(ns: string): Promise<void> {
  const dep = (name: string, replicas: number) => `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: worker, image: example.invalid/${name}:1}]
`;
  await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], dep('score-worker', 0) + dep('monolith-worker', 2));
  await eventually('monolith-worker Ready', async () => {
    const d = await getJson<{ status?: { readyReplicas?: number } }>(['get', 'deployment', 'monolith-worker', '-n', ns]);
    return d.status?.readyReplicas === 2;
  }, 60_000);
}

export async function deploymentReplicas(ns: string, name: string): Promise<{ spec: number; ready: number }> {
  const d = await getJson<{ spec: { replicas: number }; status?: { readyReplicas?: number } }>(['get', 'deployment', name, '-n', ns]);
  return { spec: d.spec.replicas, ready: d.status?.readyReplicas ?? 0 };
}

/** `spec.replicas` of the two worker Deployments, by name: what a user reads with `kubectl get deploy`. */
export async function workerReplicas(ns: string): Promise<Record<'score-worker' | 'monolith-worker', number>> {
  const [score, monolith] = await Promise.all([deploymentReplicas(ns, 'score-worker'), deploymentReplicas(ns, 'monolith-worker')]);
  return { 'score-worker': score.spec, 'monolith-worker': monolith.spec };
}
