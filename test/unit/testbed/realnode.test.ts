// The real node's pure parts: why it cannot run, and how two host states compare.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { hostStateDiff, realNodeBlocker, type HostState } from '../../testbed/realnode.ts';

const saved = { ...process.env };
afterEach(() => { process.env = { ...saved }; vi.restoreAllMocks(); });

const base: HostState = {
  sysctls: { 'vm/overcommit_memory': '0', 'net/ipv4/ip_forward': '0' },
  links: ['eth0', 'lo'], iptables: ['ip filter chain INPUT'], cgroups: ['/sys/fs/cgroup/memory:/process_api'],
  mounts: ['/'], runContainerd: false, varLogContainers: null,
};

describe('the real node', () => {
  it('says in one line why it cannot run without root', () => {
    delete process.env.CUTOVER_REAL_NODE;
    vi.spyOn(process, 'getuid').mockReturnValue(1000);
    expect(realNodeBlocker()).toBe('containerd and the kubelet need root (uid 1000): run the testbed as root, or use KWOK nodes only');
  });

  it('is off with CUTOVER_REAL_NODE=0, and on for root otherwise', () => {
    vi.spyOn(process, 'getuid').mockReturnValue(0);
    process.env.CUTOVER_REAL_NODE = '0';
    expect(realNodeBlocker()).toMatch(/^CUTOVER_REAL_NODE=0/);
    delete process.env.CUTOVER_REAL_NODE;
    expect(realNodeBlocker()).toBeUndefined();
  });

  it('lists every host difference, one line each, and nothing for the same state', () => {
    expect(hostStateDiff(base, structuredClone(base))).toEqual([]);
    const after: HostState = {
      ...structuredClone(base),
      sysctls: { 'vm/overcommit_memory': '1', 'net/ipv4/ip_forward': '0' },
      links: ['cutover0', 'eth0', 'lo'],
      iptables: ['ip filter chain INPUT', 'ip filter chain KUBE-FIREWALL'],
      cgroups: [...base.cgroups, '/sys/fs/cgroup/memory:/kubepods'],
      mounts: [],
      runContainerd: true,
      varLogContainers: [],
    };
    expect(hostStateDiff(base, after)).toEqual([
      'sysctl vm/overcommit_memory: 0 → 1',
      'link added: cutover0',
      'iptables added: ip filter chain KUBE-FIREWALL',
      'cgroup added: /sys/fs/cgroup/memory:/kubepods',
      'mount removed: /',
      '/var/log/containers: absent → present',
      '/run/containerd: absent → present',
    ]);
  });
});
