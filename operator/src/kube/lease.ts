// Leader election on a coordination.k8s.io/v1 Lease, like client-go's leaderelection:
// one replica holds the Lease and renews it; the others take it over once it has not been renewed
// for `leaseDurationMs` (measured on their own clock since they last saw it change, so clock skew
// between replicas does not matter). Writes use optimistic concurrency (resourceVersion), so two
// candidates can never both win a round.
import { setTimeout as sleep } from 'node:timers/promises';
import { realClock, rfc3339Micro, type Clock } from '../runtime/clock.ts';
import { silentLogger, type Logger } from '../runtime/logger.ts';
import type { KubeClient } from './client.ts';
import { isAlreadyExists, isConflict } from './errors.ts';
import { LEASE, type KubeObject } from './resources.ts';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface LeaseObject extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderElectionOptions {
  namespace: string;
  /** Lease name, e.g. `cutover-operator`. */
  name: string;
  /** This replica, unique: the pod name. */
  identity: string;
  /** How long a Lease is valid after its last renewal. Default 15 s. */
  leaseDurationMs?: number;
  /** The leader gives up if it could not renew for this long. Default 10 s. */
  renewDeadlineMs?: number;
  /** Time between attempts to acquire or renew. Default 2 s. */
  retryPeriodMs?: number;
  /** Hand the Lease over at once when stopped (sets a 1 s duration and clears the holder). Default true. */
  releaseOnStop?: boolean;
  /** Called when this replica becomes leader; `signal` aborts when leadership is lost or run stops. */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Called when leadership is lost or given up. */
  onStoppedLeading?: () => void | Promise<void>;
  /** Called when another replica is seen to hold the Lease. */
  onNewLeader?: (identity: string) => void;
  logger?: Logger;
  clock?: Clock;
}

export class LeaderElector {
  readonly #client: KubeClient;
  readonly #opts: LeaderElectionOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #leaseMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryMs: number;
  #observed: LeaseSpec | undefined;
  #observedAt = 0;
  #leader = false;
  #lastLeader: string | undefined;

  constructor(client: KubeClient, opts: LeaderElectionOptions) {
    this.#client = client;
    this.#opts = opts;
    this.#clock = opts.clock ?? realClock;
    this.#logger = (opts.logger ?? silentLogger).child({ component: 'leader-election', lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
    this.#leaseMs = opts.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.#retryMs = opts.retryPeriodMs ?? 2_000;
    if (this.#renewDeadlineMs >= this.#leaseMs) throw new RangeError('renewDeadlineMs must be shorter than leaseDurationMs');
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** The holder last seen in the Lease. */
  get leader(): string | undefined {
    return this.#observed?.holderIdentity || undefined;
  }

  /**
   * Campaigns until `signal` aborts: acquire, lead while renewing, and campaign again after
   * losing the Lease. Resolves once stopped (and the Lease released if `releaseOnStop`).
   */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (!(await this.#acquire(signal))) break;
      const leading = new AbortController();
      const stopLeading = () => leading.abort();
      signal.addEventListener('abort', stopLeading, { once: true });
      this.#leader = true;
      this.#logger.info('became leader');
      try {
        void Promise.resolve(this.#opts.onStartedLeading(leading.signal)).catch((err: unknown) =>
          this.#logger.error({ err }, 'onStartedLeading failed'),
        );
        await this.#renewLoop(leading.signal);
      } finally {
        signal.removeEventListener('abort', stopLeading);
        leading.abort();
        this.#leader = false;
        if (signal.aborted && this.#opts.releaseOnStop !== false) await this.#release();
        this.#logger.info('stopped leading');
        try {
          await this.#opts.onStoppedLeading?.();
        } catch (err) {
          this.#logger.error({ err }, 'onStoppedLeading failed');
        }
      }
    }
  }

  /** Tries every retry period until it holds the Lease; false if stopped first. */
  async #acquire(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      if (await this.#tryAcquireOrRenew()) return true;
      // Stopping cuts the wait short (the abort rejects; the loop checks the signal).
      await sleep(this.#retryMs * (1 + Math.random() * 0.2), undefined, { signal }).catch(() => {});
    }
    return false;
  }

  async #renewLoop(signal: AbortSignal): Promise<void> {
    let lastRenew = this.#clock.now();
    while (!signal.aborted) {
      await sleep(this.#retryMs, undefined, { signal }).catch(() => {});
      if (signal.aborted) return;
      if (await this.#tryAcquireOrRenew()) {
        lastRenew = this.#clock.now();
      } else if (this.#clock.now() - lastRenew > this.#renewDeadlineMs || (this.leader && this.leader !== this.#opts.identity)) {
        this.#logger.warn({ lastRenewAgoMs: this.#clock.now() - lastRenew, holder: this.leader }, 'lost the lease');
        return;
      }
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.#opts;
    const now = this.#clock.now();
    const desired: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.#leaseMs / 1000),
      acquireTime: rfc3339Micro(now),
      renewTime: rfc3339Micro(now),
      leaseTransitions: 0,
    };
    try {
      const current = await this.#client.get<LeaseObject>(LEASE, namespace, name);
      if (!current) {
        const created = await this.#client.create<LeaseObject>(LEASE, { metadata: { name, namespace }, spec: desired });
        this.#observe(created.spec ?? desired);
        return true;
      }
      const spec = current.spec ?? {};
      if (!sameRecord(spec, this.#observed)) this.#observe(spec);
      const holder = spec.holderIdentity ?? '';
      const durationMs = (spec.leaseDurationSeconds ?? Math.ceil(this.#leaseMs / 1000)) * 1000;
      const held = holder !== '' && holder !== identity && this.#observedAt + durationMs > now;
      if (held) {
        if (holder !== this.#lastLeader) {
          this.#lastLeader = holder;
          this.#opts.onNewLeader?.(holder);
        }
        return false;
      }
      const next: LeaseSpec =
        holder === identity
          ? { ...desired, acquireTime: spec.acquireTime ?? desired.acquireTime, leaseTransitions: spec.leaseTransitions ?? 0 }
          : { ...desired, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 };
      const updated = await this.#client.replace<LeaseObject>(LEASE, { ...current, spec: next });
      this.#observe(updated.spec ?? next);
      this.#lastLeader = identity;
      return true;
    } catch (err) {
      if (isConflict(err) || isAlreadyExists(err)) {
        this.#logger.debug('lease changed under us; not acquired this round');
      } else {
        this.#logger.warn({ err }, 'could not acquire or renew the lease');
      }
      return false;
    }
  }

  async #release(): Promise<void> {
    try {
      const current = await this.#client.get<LeaseObject>(LEASE, this.#opts.namespace, this.#opts.name);
      if (!current || current.spec?.holderIdentity !== this.#opts.identity) return;
      const now = rfc3339Micro(this.#clock.now());
      await this.#client.replace(LEASE, {
        ...current,
        spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
      });
      this.#logger.info('released the lease');
    } catch (err) {
      this.#logger.warn({ err }, 'could not release the lease');
    }
  }

  #observe(spec: LeaseSpec): void {
    this.#observed = spec;
    this.#observedAt = this.#clock.now();
  }
}

function sameRecord(a: LeaseSpec, b: LeaseSpec | undefined): boolean {
  return !!b && a.holderIdentity === b.holderIdentity && a.renewTime === b.renewTime && a.leaseDurationSeconds === b.leaseDurationSeconds;
}
