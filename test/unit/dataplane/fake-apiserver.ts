// A tiny in-memory stand-in for the Kubernetes API (discovery, LIST, WATCH with resourceVersions,
// 410 for compacted versions) for the three resources the testbed gateway watches. Unit tests only:
// it lets us exercise the reflector's list/watch/relist logic without a control plane.
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

interface Resource {
  groupVersion: string;
  plural: string;
  kind: string;
}

const RESOURCES: Resource[] = [
  { groupVersion: 'v1', plural: 'services', kind: 'Service' },
  { groupVersion: 'discovery.k8s.io/v1', plural: 'endpointslices', kind: 'EndpointSlice' },
  { groupVersion: 'gateway.networking.k8s.io/v1', plural: 'httproutes', kind: 'HTTPRoute' },
];

type Obj = { apiVersion?: string; kind?: string; metadata: { name: string; namespace: string; resourceVersion?: string; [k: string]: unknown }; [k: string]: unknown };
interface Event {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
}

export class FakeApiServer {
  private rv = 100;
  private readonly objects = new Map<string, Map<string, Obj>>();
  private readonly events = new Map<string, Event[]>();
  /** Events with rv <= compactedRv are gone: watching from older versions yields 410. */
  compactedRv = 0;
  private readonly watchers = new Set<{ plural: string; res: ServerResponse }>();
  private dir: string | undefined;
  server!: Server;
  port = 0;
  kubeconfigPath = '';
  watchRequests = 0;
  listRequests = 0;

  async start(): Promise<void> {
    for (const r of RESOURCES) {
      this.objects.set(r.plural, new Map());
      this.events.set(r.plural, []);
    }
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'fake-apiserver-'));
    this.dir = dir;
    this.kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(
      this.kubeconfigPath,
      `apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "http://127.0.0.1:${this.port}", insecure-skip-tls-verify: true}}]
users: [{name: fake, user: {token: fake}}]
contexts: [{name: fake, context: {cluster: fake, user: fake}}]
current-context: fake
`,
    );
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.res.destroy();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    // Its kubeconfig's temporary directory goes with it.
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  apply(plural: string, obj: Obj): void {
    const r = RESOURCES.find((x) => x.plural === plural)!;
    const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
    const store = this.objects.get(plural)!;
    const type = store.has(key) ? 'MODIFIED' : 'ADDED';
    const stored: Obj = { ...structuredClone(obj), apiVersion: r.groupVersion, kind: r.kind, metadata: { ...structuredClone(obj.metadata), resourceVersion: String(++this.rv) } };
    store.set(key, stored);
    this.emit(plural, { rv: this.rv, type, object: stored });
  }

  remove(plural: string, namespace: string, name: string): void {
    const store = this.objects.get(plural)!;
    const old = store.get(`${namespace}/${name}`);
    if (!old) return;
    store.delete(`${namespace}/${name}`);
    const object = { ...old, metadata: { ...old.metadata, resourceVersion: String(++this.rv) } };
    this.emit(plural, { rv: this.rv, type: 'DELETED', object });
  }

  /** Drops all open watches (as an API server restart would). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
  }

  /** Forgets history: watches resuming from an older resourceVersion get 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
  }

  private emit(plural: string, ev: Event): void {
    this.events.get(plural)!.push(ev);
    for (const w of this.watchers) if (w.plural === plural) w.res.write(JSON.stringify({ type: ev.type, object: ev.object }) + '\n');
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    for (const r of RESOURCES) {
      const base = r.groupVersion === 'v1' ? '/api/v1' : `/apis/${r.groupVersion}`;
      if (url.pathname === base) {
        return json(200, {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: r.groupVersion,
          resources: RESOURCES.filter((x) => x.groupVersion === r.groupVersion).map((x) => ({ name: x.plural, singularName: '', namespaced: true, kind: x.kind, verbs: ['list', 'watch'] })),
        });
      }
      if (url.pathname !== `${base}/${r.plural}`) continue;
      if (url.searchParams.get('watch') === 'true') {
        this.watchRequests++;
        const from = Number(url.searchParams.get('resourceVersion') ?? '0');
        res.writeHead(200, { 'content-type': 'application/json' });
        if (from < this.compactedRv) {
          res.end(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' } }) + '\n');
          return;
        }
        for (const ev of this.events.get(r.plural)!) if (ev.rv > from) res.write(JSON.stringify({ type: ev.type, object: ev.object }) + '\n');
        const w = { plural: r.plural, res };
        this.watchers.add(w);
        const timeout = Number(url.searchParams.get('timeoutSeconds') ?? '0');
        const t = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : null;
        res.on('close', () => {
          if (t) clearTimeout(t);
          this.watchers.delete(w);
        });
        return;
      }
      this.listRequests++;
      return json(200, { kind: `${r.kind}List`, apiVersion: r.groupVersion, metadata: { resourceVersion: String(this.rv) }, items: [...this.objects.get(r.plural)!.values()] });
    }
    json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'NotFound', message: `no route for ${url.pathname}` });
  }
}
