// A change freeze on a namespace's HTTPRoutes, enforced by the API server itself (a
// ValidatingAdmissionPolicy and its binding): every update of an HTTPRoute in the namespace is
// refused with `message`, the way a real admission policy or webhook refuses an operator's write.
import { eventually, kubectl, kubectlOk } from './cluster.ts';

export interface RouteFreeze {
  name: string;
  /** Lifts the freeze and waits until route updates are accepted again. */
  lift(): Promise<void>;
  /** Deletes the policy and binding, whatever state they are in (for afterAll). */
  remove(): Promise<void>;
}

export async function freezeRoutes(ns: string, message = `HTTPRoutes in ${ns} are frozen (change freeze)`): Promise<RouteFreeze> {
  const name = `freeze-routes-${ns}`;
  await kubectlOk(['apply', '--server-side', '--field-manager=route-freeze', '-f', '-'], `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: ${name}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - {apiGroups: [gateway.networking.k8s.io], apiVersions: ['*'], operations: [UPDATE], resources: [httproutes]}
  validations:
    - {expression: 'false', message: ${JSON.stringify(message)}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: ${name}}
spec:
  policyName: ${name}
  validationActions: [Deny]
  matchResources:
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ${ns}}}
`);
  const probe = () => kubectl(['annotate', 'httproutes', '--all', '-n', ns, `cutover.test/probe=${Date.now()}`, '--overwrite', '--dry-run=server']);
  // In force once the API server's policy cache has it.
  await eventually(`updates of HTTPRoutes in ${ns} refused`, async () => { const r = await probe(); return r.code !== 0 && r.stderr.includes(message); }, 60_000, 250);
  const remove = async () => { await kubectl(['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', name, '--ignore-not-found']); };
  return {
    name,
    remove,
    async lift() {
      await remove();
      await eventually(`updates of HTTPRoutes in ${ns} accepted again`, async () => (await probe()).code === 0, 60_000, 250);
    },
  };
}
