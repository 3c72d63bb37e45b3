// Scrapes the pods that ask for it, as a real Prometheus does with the common annotations
// (`prometheus.io/scrape: "true"`, `prometheus.io/port`, `prometheus.io/path`; README › Response parity
// gives that scrape config). The testbed's Prometheus is Debian's build, which has no Kubernetes
// service discovery, so this stands in for it: it lists the real node's pods every half second and
// keeps one file_sd target per annotated, ready pod (its pod IP, which the host reaches on the node's
// bridge), labelled `pod`, removing it when the pod goes. The parity comparators are such pods.
import { get as httpsGet } from 'node:https';
import { readFileSync } from 'node:fs';
import { setScrapeTarget, type TestbedInfo } from './testbed.ts';
import { REAL_NODE_NAME } from './realnode.ts';

interface PodList {
  items: Array<{
    metadata: { name: string; namespace: string; annotations?: Record<string, string>; deletionTimestamp?: string };
    status: { podIP?: string; conditions?: Array<{ type: string; status: string }> };
  }>;
}

export interface PodScrape {
  /** Targets currently kept, by pod (`namespace/name` → `ip:port/path`). */
  targets(): Map<string, string>;
  /** Stops listing and removes every target it added. */
  stop(): void;
}

const targetName = (key: string): string => `pod-${key.replace('/', '-')}`;

/** Starts keeping the annotated pods of the real node as scrape targets (only pods in `namespaces` when given). */
export function startPodScrape(info: TestbedInfo, opts: { namespaces?: string[]; intervalMs?: number } = {}): PodScrape {
  const ca = readFileSync(info.caCert);
  const kept = new Map<string, string>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const path = `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${REAL_NODE_NAME}`)}`;
  const sync = async (): Promise<void> => {
    const list = await new Promise<PodList | undefined>((resolve) => {
      const req = httpsGet(new URL(path, info.apiServerUrl), { ca, headers: { authorization: `Bearer ${info.adminToken}` }, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { body += c; });
        res.on('end', () => { try { resolve(res.statusCode === 200 ? JSON.parse(body) as PodList : undefined); } catch { resolve(undefined); } });
      });
      req.on('error', () => resolve(undefined));
      req.on('timeout', () => req.destroy());
    });
    if (!list || stopped) return;
    const want = new Map<string, string>();
    for (const p of list.items) {
      const a = p.metadata.annotations ?? {};
      if (a['prometheus.io/scrape'] !== 'true' || !a['prometheus.io/port'] || !p.status.podIP || p.metadata.deletionTimestamp) continue;
      if (opts.namespaces && !opts.namespaces.includes(p.metadata.namespace)) continue;
      if (!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) continue;
      want.set(`${p.metadata.namespace}/${p.metadata.name}`, `${p.status.podIP}:${a['prometheus.io/port']}${a['prometheus.io/path'] ?? '/metrics'}`);
    }
    for (const [key, target] of want) {
      if (kept.get(key) === target) continue;
      const [address, ...rest] = target.split('/');
      setScrapeTarget(info, targetName(key), address!, { pod: key.split('/')[1]!, __metrics_path__: `/${rest.join('/')}` });
      kept.set(key, target);
    }
    for (const key of [...kept.keys()]) {
      if (want.has(key)) continue;
      setScrapeTarget(info, targetName(key), null);
      kept.delete(key);
    }
  };
  const loop = (): void => {
    sync().catch(() => {}).finally(() => {
      if (!stopped) timer = setTimeout(loop, opts.intervalMs ?? 500);
    });
  };
  loop();
  return {
    targets: () => new Map(kept),
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      for (const key of kept.keys()) setScrapeTarget(info, targetName(key), null);
      kept.clear();
    },
  };
}
