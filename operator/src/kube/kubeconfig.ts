// Kubeconfig and in-cluster configuration, built from @kubernetes/client-node's own parts (its
// kubeconfig parser, exec-plugin and token-file authenticators) without loading the package's
// index: the index pulls in the whole generated API (≈ 70 MB of resident memory and 0.8 s of
// startup, a third of the operator's memory budget at 1,000 shifts; README › Performance), and the
// operator needs none of it. The rarer auth providers (OIDC, Azure, GCP) load the full KubeConfig
// on first use, so every kubeconfig client-node accepts still works.
//
// Semantics follow client-node's KubeConfig: KUBECONFIG lists files merged in order (a later
// file's current-context replaces an earlier one, where kubectl keeps the first; duplicate names
// are refused), then ~/.kube/config, then the in-cluster service account; relative certificate
// paths are relative to their kubeconfig.
import { accessSync, existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { newClusters, newContexts, newUsers, type Cluster, type Context, type User } from '@kubernetes/client-node/dist/config_types.js';
import { ExecAuth } from '@kubernetes/client-node/dist/exec_auth.js';
import { FileAuth } from '@kubernetes/client-node/dist/file_auth.js';

export type { Cluster, Context, User };

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** What a request needs to authenticate: headers (bearer token, impersonation) and basic auth. */
export interface Credentials {
  headers: Record<string, string>;
  /** `user:password` for HTTP basic auth. */
  basic?: string | undefined;
}

interface Parsed { clusters: Cluster[]; users: User[]; contexts: Context[]; currentContext: string }

export class KubeConfigFile {
  clusters: Cluster[] = [];
  users: User[] = [];
  contexts: Context[] = [];
  currentContext = '';
  readonly #exec = new ExecAuth();
  readonly #file = new FileAuth();

  loadFromString(text: string, root?: string): void {
    const p = parse(text, root);
    this.clusters = p.clusters;
    this.users = p.users;
    this.contexts = p.contexts;
    this.currentContext = p.currentContext;
  }

  loadFromFile(file: string): void {
    this.loadFromString(readFileSync(file, 'utf8'), dirname(file));
  }

  /** KUBECONFIG (merged), else ~/.kube/config, else in-cluster, else http://localhost:8080. */
  loadFromDefault(env: NodeJS.ProcessEnv = process.env): void {
    const files = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
    if (files.length > 0) {
      this.loadFromFile(files[0]!);
      for (const f of files.slice(1)) {
        const p = parse(readFileSync(f, 'utf8'), dirname(f));
        for (const [list, add, what] of [[this.clusters, p.clusters, 'cluster'], [this.users, p.users, 'user'], [this.contexts, p.contexts, 'context']] as const) {
          for (const x of add) {
            if ((list as Array<{ name: string }>).some((y) => y.name === x.name)) throw new Error(`Duplicate ${what}: ${x.name}`);
            (list as Array<typeof x>).push(x);
          }
        }
        // client-node's default: a later file's current-context wins when it has one.
        if (p.currentContext) this.currentContext = p.currentContext;
      }
      return;
    }
    const home = env.HOME;
    if (home && readable(join(home, '.kube', 'config'))) {
      this.loadFromFile(join(home, '.kube', 'config'));
      return;
    }
    if (existsSync(`${SERVICE_ACCOUNT_DIR}/token`)) {
      this.loadFromCluster('', env);
      return;
    }
    this.clusters = [{ name: 'cluster', server: 'http://localhost:8080', skipTLSVerify: false }];
    this.users = [{ name: 'user' }];
    this.contexts = [{ name: 'loaded-context', cluster: 'cluster', user: 'user' }];
    this.currentContext = 'loaded-context';
  }

  /** The pod's service account: KUBERNETES_SERVICE_HOST/PORT, its CA, its (rotated) token. */
  loadFromCluster(pathPrefix = '', env: NodeJS.ProcessEnv = process.env): void {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT;
    const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
    const server = `${scheme}://${host && isIPv6(host) ? `[${host}]` : host}:${port}`;
    const dir = `${pathPrefix}${SERVICE_ACCOUNT_DIR}`;
    this.clusters = [{ name: 'inCluster', caFile: `${dir}/ca.crt`, server, skipTLSVerify: false }];
    // The token file is re-read every minute (projected tokens rotate), as client-go does.
    this.users = [{ name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile: `${dir}/token` } } }];
    let namespace: string | undefined;
    if (existsSync(`${dir}/namespace`)) namespace = readFileSync(`${dir}/namespace`, 'utf8').trim() || undefined;
    this.contexts = [{ name: 'inClusterContext', cluster: 'inCluster', user: 'inClusterUser', ...(namespace !== undefined ? { namespace } : {}) }];
    this.currentContext = 'inClusterContext';
  }

  getCurrentContext(): string { return this.currentContext; }
  setCurrentContext(name: string): void { this.currentContext = name; }
  getContextObject(name: string): Context | undefined { return this.contexts.find((c) => c.name === name); }

  getCurrentCluster(): Cluster | undefined {
    const ctx = this.getContextObject(this.currentContext);
    return ctx ? this.clusters.find((c) => c.name === ctx.cluster) : undefined;
  }

  getCurrentUser(): User | undefined {
    const ctx = this.getContextObject(this.currentContext);
    return ctx ? this.users.find((u) => u.name === ctx.user) : undefined;
  }

  /** Headers and basic auth for the current user (exec plugins and token files are cached by them). */
  async credentials(): Promise<Credentials> {
    const user = this.getCurrentUser();
    const headers: Record<string, string> = {};
    if (!user) return { headers };
    if (user.impersonateUser) headers['Impersonate-User'] = user.impersonateUser;
    const opts: { headers: Record<string, string> } = { headers };
    if (this.#exec.isAuthProvider(user)) {
      await this.#exec.applyAuthentication(user, opts);
    } else if (this.#file.isAuthProvider(user)) {
      await this.#file.applyAuthentication(user, opts);
    } else if (user.authProvider) {
      // OIDC, Azure, GCP: rare and deprecated upstream; the full client handles them.
      const { KubeConfig } = await import('@kubernetes/client-node');
      const kc = new KubeConfig();
      kc.loadFromOptions({ clusters: this.clusters, users: this.users, contexts: this.contexts, currentContext: this.currentContext });
      const full: { headers?: Record<string, unknown> } = {};
      await kc.applyToHTTPSOptions(full);
      for (const [k, v] of Object.entries(full.headers ?? {})) if (v !== undefined) headers[k] = String(v);
    }
    if (user.token) headers.Authorization = `Bearer ${user.token}`;
    return { headers, basic: user.username ? `${user.username}:${user.password ?? ''}` : undefined };
  }
}

function parse(text: string, root: string | undefined): Parsed {
  const obj = (loadYaml(text) ?? {}) as Record<string, unknown>;
  const clusters = newClusters(obj.clusters);
  const users = newUsers(obj.users);
  const contexts = newContexts(obj.contexts);
  if (root) {
    for (const c of clusters) if (c.caFile) c.caFile = absolute(root, c.caFile);
    for (const u of users) {
      if (u.certFile) u.certFile = absolute(root, u.certFile);
      if (u.keyFile) u.keyFile = absolute(root, u.keyFile);
    }
  }
  return { clusters, users, contexts, currentContext: typeof obj['current-context'] === 'string' ? obj['current-context'] : '' };
}

function absolute(root: string, file: string): string {
  return isAbsolute(file) ? file : join(root, file);
}

function readable(file: string): boolean {
  try { accessSync(file); return true; } catch { return false; }
}
