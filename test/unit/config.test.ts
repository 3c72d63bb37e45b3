// Operator flags: the leader-election timings (client-go's defaults, Go durations, ordered).
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../operator/src/config.ts';

describe('loadConfig leader election', () => {
  it("defaults to client-go's 15 s lease, 10 s renew deadline, 2 s retry", () => {
    const c = loadConfig([], {});
    expect([c.leaderElect, c.leaseDurationMs, c.renewDeadlineMs, c.retryPeriodMs]).toEqual([false, 15_000, 10_000, 2_000]);
  });

  it('takes Go durations from flags, and from the environment', () => {
    const c = loadConfig(['--leader-elect=true', '--leader-election-lease-duration=6s', '--leader-election-renew-deadline=4s', '--leader-election-retry-period=500ms'], {});
    expect([c.leaderElect, c.leaseDurationMs, c.renewDeadlineMs, c.retryPeriodMs]).toEqual([true, 6000, 4000, 500]);
    const e = loadConfig([], { LEADER_ELECT: 'true', LEADER_ELECTION_LEASE_DURATION: '1m', LEADER_ELECTION_RENEW_DEADLINE: '40s', LEADER_ELECTION_RETRY_PERIOD: '5s' });
    expect([e.leaseDurationMs, e.renewDeadlineMs, e.retryPeriodMs]).toEqual([60_000, 40_000, 5000]);
  });

  it('refuses a bad duration or timings out of order, naming the flag', () => {
    // The message names what the user set (the flag and its variable), never the internal field.
    const lease = /--leader-election-lease-duration \(LEADER_ELECTION_LEASE_DURATION\): must be a duration such as 30s/;
    expect(() => loadConfig(['--leader-election-lease-duration=15'], {})).toThrow(lease);
    expect(() => loadConfig([], { LEADER_ELECTION_LEASE_DURATION: '15' })).toThrow(lease);
    expect(() => loadConfig(['--leader-election-retry-period=0s'], {})).toThrow(/--leader-election-retry-period \(LEADER_ELECTION_RETRY_PERIOD\): must be more than 0/);
    expect(() => loadConfig(['--leader-election-lease-duration=10s'], {})).toThrow(/--leader-election-renew-deadline \(LEADER_ELECTION_RENEW_DEADLINE\): must be shorter than --leader-election-lease-duration/);
    expect(() => loadConfig(['--leader-election-retry-period=10s'], {})).toThrow(/--leader-election-retry-period \(LEADER_ELECTION_RETRY_PERIOD\): must be shorter than --leader-election-renew-deadline/);
    expect(() => loadConfig(['--port=70000'], {})).toThrow(/invalid configuration: --port \(PORT\): /);
  });
});

describe('loadConfig parity comparators', () => {
  it('takes the image, pull policy and pod template (JSON) from flags or the environment; none: no comparators', () => {
    expect(loadConfig([], {}).parityImage).toBeUndefined();
    const c = loadConfig(['--parity-image=reg/cutover:1', '--parity-image-pull-policy=Never', `--parity-pod-template=${JSON.stringify({ nodeSelector: { a: 'b' }, tolerations: [{ key: 't', operator: 'Exists' }], networkPolicy: { apiServerPorts: [6443] } })}`], {});
    expect(c).toMatchObject({ parityImage: 'reg/cutover:1', parityImagePullPolicy: 'Never', parityPodTemplate: { nodeSelector: { a: 'b' }, tolerations: [{ key: 't', operator: 'Exists' }], networkPolicy: { apiServerPorts: [6443] } } });
    expect(loadConfig([], { CUTOVER_PARITY_IMAGE: 'x:1', CUTOVER_PARITY_POD_TEMPLATE: '{}' })).toMatchObject({ parityImage: 'x:1', parityPodTemplate: {} });
  });

  it('refuses a pod template that is not JSON or has unknown keys, naming the flag', () => {
    expect(() => loadConfig(['--parity-pod-template={nope'], {})).toThrow(/--parity-pod-template \(CUTOVER_PARITY_POD_TEMPLATE\): must be JSON/);
    expect(() => loadConfig(['--parity-pod-template={"affinity":{}}'], {})).toThrow(/--parity-pod-template \(CUTOVER_PARITY_POD_TEMPLATE\)/);
    expect(() => loadConfig(['--parity-image-pull-policy=Sometimes'], {})).toThrow(/--parity-image-pull-policy/);
  });
});
