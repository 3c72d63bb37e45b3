// Sends phase changes to GitHub and to outbound webhooks without ever making a reconcile wait.
//
// `phaseChanged` only queues and returns. Changes of one resource are delivered in order (a
// `success` never overtakes the `in_progress` before it); resources do not wait for each other.
// Delivery is at most once: a change queued when the process dies is not sent after the restart
// (the resource's status and Events remain the record). The queue is bounded; past the bound the
// newest change is dropped with a warning rather than letting memory grow.
import type { SecretKeyRef } from '../api/common.ts';
import { SECRET, type KubeClient, type KubeObject } from '../kube/index.ts';
import type { Logger } from '../runtime/logger.ts';
import { counter, registry as defaultRegistry, type Registry } from '../runtime/metrics.ts';
import type { PhaseChange } from './change.ts';
import { GitHubReporter } from './github.ts';
import { deliverWebhook, webhookBody, type DeliveryOptions } from './webhook.ts';

/** Reads one key of a Secret in a namespace; undefined when the Secret or key does not exist. */
export type SecretReader = (namespace: string, ref: SecretKeyRef) => Promise<string | undefined>;

export function kubeSecretReader(client: KubeClient): SecretReader {
  return async (namespace, ref) => {
    const s = await client.get<KubeObject & { data?: Record<string, string> }>(SECRET, namespace, ref.name);
    const v = s?.data?.[ref.key];
    return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8').trim();
  };
}

export interface NotifierOptions {
  readSecret: SecretReader;
  logger: Logger;
  /** GitHub API base URL (GitHub Enterprise: https://HOST/api/v3). */
  githubApiUrl?: string;
  webhook?: DeliveryOptions;
  /** Most changes waiting or in flight; default 1000. */
  maxQueued?: number;
  registry?: Registry;
  /** Test hook: GitHub call options (attempts). */
  github?: { attempts?: number };
}

export class Notifier {
  readonly #o: NotifierOptions;
  readonly #github: GitHubReporter;
  /** Per resource: the tail of its delivery chain. */
  readonly #chains = new Map<string, Promise<void>>();
  #queued = 0;
  readonly #sent;

  constructor(opts: NotifierOptions) {
    this.#o = opts;
    this.#github = new GitHubReporter({ baseUrl: opts.githubApiUrl, logger: opts.logger, attempts: opts.github?.attempts });
    this.#sent = counter({ name: 'cutover_notifications_total', help: 'Notifications of phase changes, by channel and result.', labelNames: ['channel', 'result'] as const, registry: opts.registry ?? defaultRegistry });
  }

  /** Queues the change for delivery and returns at once. */
  phaseChanged(c: PhaseChange): void {
    const hasGithub = Boolean(c.notify.github);
    const hooks = c.notify.webhooks ?? [];
    if (!hasGithub && hooks.length === 0) return;
    if (this.#queued >= (this.#o.maxQueued ?? 1000)) {
      this.#o.logger.warn({ key: `${c.namespace}/${c.name}`, to: c.to }, 'notification queue full: change not sent');
      this.#sent.inc({ channel: 'all', result: 'dropped' });
      return;
    }
    this.#queued++;
    const key = `${c.kind}/${c.namespace}/${c.name}`;
    const prev = this.#chains.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.#deliver(c)).finally(() => {
      this.#queued--;
      if (this.#chains.get(key) === next) this.#chains.delete(key);
    });
    this.#chains.set(key, next);
  }

  /** Resolves when everything queued so far was delivered (or given up on). */
  async flush(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
  }

  async #deliver(c: PhaseChange): Promise<void> {
    const log = this.#o.logger.child({ key: `${c.namespace}/${c.name}`, kind: c.kind, to: c.to });
    const tasks: Array<Promise<void>> = [];
    const gh = c.notify.github;
    if (gh) {
      tasks.push((async () => {
        try {
          const token = await this.#o.readSecret(c.namespace, gh.tokenSecret);
          if (!token) throw new Error(`Secret ${c.namespace}/${gh.tokenSecret.name} has no key ${gh.tokenSecret.key} (spec.notify.github.tokenSecret)`);
          await this.#github.report(c, token);
          this.#sent.inc({ channel: 'github', result: 'ok' });
        } catch (err) {
          this.#sent.inc({ channel: 'github', result: 'error' });
          log.warn({ err: err instanceof Error ? err.message : String(err), status: (err as { status?: number }).status }, 'github notification failed');
        }
      })());
    }
    const body = webhookBody(c);
    for (const [i, hook] of (c.notify.webhooks ?? []).entries()) {
      tasks.push((async () => {
        let secret: string | undefined;
        try {
          secret = hook.secretRef ? await this.#o.readSecret(c.namespace, hook.secretRef) : undefined;
        } catch (err) {
          log.warn({ err: err instanceof Error ? err.message : String(err), webhook: i }, 'webhook secret unreadable');
        }
        if (hook.secretRef && !secret) {
          // Never send unsigned what the user asked to sign.
          this.#sent.inc({ channel: 'webhook', result: 'error' });
          log.warn({ webhook: i, field: `spec.notify.webhooks[${i}].secretRef` }, `webhook not sent: Secret ${c.namespace}/${hook.secretRef.name} key ${hook.secretRef.key} not found`);
          return;
        }
        const r = await deliverWebhook(hook.url, body, secret, this.#o.webhook);
        this.#sent.inc({ channel: 'webhook', result: r.ok ? 'ok' : 'error' });
        if (r.ok) log.debug({ webhook: i, attempts: r.attempts }, 'webhook delivered');
        else log.warn({ webhook: i, host: safeHost(hook.url), attempts: r.attempts, status: r.status, err: r.error }, 'webhook not delivered');
      })());
    }
    await Promise.all(tasks);
  }
}

function safeHost(url: string): string {
  try { return new URL(url).host; } catch { return 'invalid'; }
}
