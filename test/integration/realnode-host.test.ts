// The real node changes the host (sysctls, iptables chains, cgroups, mounts, the bridge, IP
// forwarding); stopping it must put every one of them back, whether it stops cleanly (`down`) or
// crashed and the next start cleans up. The reference is what `up` recorded before it started the
// node (realnode/host-before.json). The run's shared testbed's real node is stopped and started
// again here (one real node per machine), and is Ready again when the test ends.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, getJson, kubectl, kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { isAlive } from '../testbed/procs.ts';
import { hostState, hostStateDiff, realNodePaths, stopRealNode, PAUSE_IMAGE, REAL_NODE_LABEL, REAL_NODE_TAINT, type HostState } from '../testbed/realnode.ts';
import { readState, requireRealNode, startTestbedRealNode, stopTestbedRealNode } from '../testbed/testbed.ts';

const ns = uniqueName('host');

async function runPodOnRealNode(name: string): Promise<void> {
  await kubectlOk(['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}}
spec:
  nodeSelector: {${REAL_NODE_LABEL.key}: "${REAL_NODE_LABEL.value}"}
  tolerations: [{key: ${REAL_NODE_TAINT.key}, operator: Exists}]
  terminationGracePeriodSeconds: 1
  containers: [{name: sleep, image: ${PAUSE_IMAGE}, imagePullPolicy: Never}]
`);
  await eventually(`pod ${name} Running`, async () => {
    const p = await getJson<{ status: { phase?: string } }>(['get', 'pod', name, '-n', ns]);
    return p.status.phase === 'Running' ? true : undefined;
  }, 120_000);
}

let before: HostState;

beforeAll(async () => {
  const info = testbed();
  requireRealNode(info);
  before = JSON.parse(readFileSync(realNodePaths(info.dir).hostBefore, 'utf8')) as HostState;
  await kubectlOk(['create', 'namespace', ns]);
});

afterAll(async () => {
  await kubectl(['delete', 'namespace', ns, '--wait=false']);
});

describe('the real node and the host', () => {
  it('stopping it puts the host back as it was before it started', async () => {
    const info = testbed();
    await runPodOnRealNode('p1');
    // While it runs, the host differs (so this comparison can fail): the bridge, the KUBE-* chains, /kubepods, sysctls.
    const during = hostStateDiff(before, hostState());
    expect(during).toEqual(expect.arrayContaining([expect.stringMatching(/^link added: cutover0$/), expect.stringMatching(/^cgroup added: .*\/kubepods$/), expect.stringMatching(/KUBE-FIREWALL/)]));
    try {
      await stopTestbedRealNode(info);
      expect(hostStateDiff(before, hostState()).join('\n')).toBe('');
    } finally {
      await startTestbedRealNode(info);
    }
  });

  it('after a crash (kubelet and containerd killed, pods left running), the cleanup of the next start puts the host back', async () => {
    const info = testbed();
    await runPodOnRealNode('p2');
    const state = readState(info.dir)!;
    for (const name of ['kubelet', 'containerd']) {
      const p = state.processes.find((x) => x.name === name)!;
      process.kill(p.pid, 'SIGKILL');
      await eventually(`${name} gone`, async () => (isAlive(p.pid) ? undefined : true), 10_000);
    }
    try {
      // What the next `up` runs first, knowing nothing but the directory.
      await stopRealNode(info.dir, []);
      expect(hostStateDiff(before, hostState()).join('\n')).toBe('');
    } finally {
      await startTestbedRealNode(info);
    }
    await runPodOnRealNode('p3');
  });
});
