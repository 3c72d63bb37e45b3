// GitHub Deployments for cutovers: one Deployment per run of a resource, in the environment named
// by `spec.notify.github.environment`, with statuses `in_progress` (started, resumed, paused),
// `success` (Completed) and `failure` (RolledBack / Failed, the reason in the description), and,
// when `openIssueOnRollback` is set, an issue on rollback.
//
// The Deployment of a run is found again after an operator restart: it carries the resource's uid
// and run id in its payload, and is looked up among the environment's recent `deploy:cutover`
// Deployments. GitHub Enterprise and tests set the API base URL (operator flag --github-api-url).
//
// Retries are Octokit's @octokit/plugin-retry: 5xx, 429 and network errors with backoff; any other
// 4xx is GitHub refusing the request, final. (Not @octokit/plugin-throttling: it spaces writes 1 s
// apart for bulk clients; a phase change makes at most three writes, and notifications stay prompt.)
//
// Octokit is loaded on first use (issue 18): most installs never configure GitHub, and its modules
// cost an idle operator several MB of heap and code.
import type { Octokit } from '@octokit/rest';
import type { Logger } from '../runtime/logger.ts';
import { isFailure, isSuccess, subject, summary, type PhaseChange } from './change.ts';

export const DEFAULT_GITHUB_API_URL = 'https://api.github.com';
export const DEPLOYMENT_TASK = 'deploy:cutover';

type GitHub = Octokit;
type GitHubClass = new (options: Record<string, unknown>) => GitHub;
let loaded: Promise<GitHubClass> | undefined;
/** Octokit with plugin-retry, imported once, on the first report. */
function gitHubClass(): Promise<GitHubClass> {
  loaded ??= Promise.all([import('@octokit/rest'), import('@octokit/plugin-retry')])
    .then(([rest, plugin]) => rest.Octokit.plugin(plugin.retry) as unknown as GitHubClass)
    .catch((err: unknown) => { loaded = undefined; throw err; });
  return loaded;
}
/** Every 4xx but 429 is final. Network errors reach plugin-retry as status 500 (@octokit/request). */
const DO_NOT_RETRY = Array.from({ length: 100 }, (_, i) => 400 + i).filter((s) => s !== 429);

type DeploymentState = 'in_progress' | 'success' | 'failure';

export interface GitHubReporterOptions {
  baseUrl?: string;
  logger: Logger;
  userAgent?: string;
  /** Attempts per API call on 5xx, 429 and network errors; default 3. */
  attempts?: number;
}

interface DeploymentPayload { cutover?: { uid?: string; run?: string } }

/** What a GitHub status says for a phase; undefined: nothing to report. */
export function deploymentState(c: PhaseChange): DeploymentState | undefined {
  if (isSuccess(c.to)) return 'success';
  if (isFailure(c.to)) return 'failure';
  // Started (Pending → Progressing), paused, resumed; a slice shadowing, shifting, stabilizing.
  if (['Progressing', 'Paused', 'Running', 'Shadowing', 'Shifting', 'Stabilizing'].includes(c.to)) return 'in_progress';
  return undefined;
}

/** GitHub limits a deployment status description to 140 characters. */
export function description(c: PhaseChange): string {
  const text = c.to === 'RolledBack' && c.rollback ? `rolled back (${c.rollback.trigger}): ${c.rollback.reason}` : c.to === 'Completed' ? `completed${c.weight !== undefined ? ` at ${c.weight}%` : ''}` : `${c.to}: ${c.message}`;
  return text.length <= 140 ? text : `${text.slice(0, 139)}…`;
}

export class GitHubReporter {
  readonly #o: GitHubReporterOptions;
  /** `${uid}|${run}` → deployment id, for the runs seen by this process. */
  readonly #deployments = new Map<string, number>();
  readonly #defaultBranches = new Map<string, string>();

  constructor(opts: GitHubReporterOptions) {
    this.#o = opts;
  }

  /** Reports one change with `token`; throws on an API error (after retries). */
  async report(c: PhaseChange, token: string): Promise<void> {
    const gh = c.notify.github;
    if (!gh) return;
    const state = deploymentState(c);
    if (!state) return;
    const attempts = Math.max(1, this.#o.attempts ?? 3);
    const GitHub = await gitHubClass();
    const octokit = new GitHub({
      auth: token,
      // Backoff (retryCount + 1)² × 500 ms: 0.5 s, then 2 s.
      retry: { retries: attempts - 1, retryAfterBaseValue: 500, doNotRetry: DO_NOT_RETRY },
      baseUrl: (this.#o.baseUrl ?? DEFAULT_GITHUB_API_URL).replace(/\/+$/, ''),
      userAgent: this.#o.userAgent ?? 'cutover',
      log: {
        debug: () => {}, info: () => {},
        warn: (msg: string) => this.#o.logger.warn({ github: msg }, 'github client'),
        error: (msg: string) => this.#o.logger.warn({ github: msg }, 'github client'),
      },
    });
    const owner = gh.owner;
    const repo = gh.repo;
    const id = await this.#deploymentFor(octokit, c, owner, repo);
    await octokit.rest.repos.createDeploymentStatus({
      owner, repo, deployment_id: id, state, description: description(c), environment: gh.environment, auto_inactive: state === 'success',
    });
    this.#o.logger.info({ key: `${c.namespace}/${c.name}`, repo: `${owner}/${repo}`, deployment: id, state }, 'github deployment status');
    if (c.to === 'RolledBack' && gh.openIssueOnRollback) {
      const issue = await octokit.rest.issues.create({ owner, repo, title: issueTitle(c), body: issueBody(c, gh.environment, id) });
      this.#o.logger.info({ key: `${c.namespace}/${c.name}`, repo: `${owner}/${repo}`, issue: issue.data.number }, 'github issue opened');
    }
  }

  async #deploymentFor(octokit: GitHub, c: PhaseChange, owner: string, repo: string): Promise<number> {
    const gh = c.notify.github!;
    const runKey = `${owner}/${repo}|${c.uid}|${c.run}`;
    const known = this.#deployments.get(runKey);
    if (known !== undefined) return known;
    // After a restart: the run's deployment may already exist.
    const recent = await octokit.rest.repos.listDeployments({ owner, repo, environment: gh.environment, task: DEPLOYMENT_TASK, per_page: 50 });
    const found = recent.data.find((d) => {
      const p = (typeof d.payload === 'string' ? safeParse(d.payload) : d.payload) as DeploymentPayload | undefined;
      return p?.cutover?.uid === c.uid && p.cutover.run === c.run;
    });
    if (found) { this.#deployments.set(runKey, found.id); return found.id; }
    const ref = gh.ref ?? await this.#defaultBranch(octokit, owner, repo);
    const created = await octokit.rest.repos.createDeployment({
      owner, repo, ref, environment: gh.environment, task: DEPLOYMENT_TASK,
      // A cutover is not a build of `ref`: no merge of the default branch, no commit status checks.
      auto_merge: false, required_contexts: [],
      description: `${subject(c)}`.slice(0, 140),
      payload: { cutover: { kind: c.kind, namespace: c.namespace, name: c.name, uid: c.uid, run: c.run } },
    });
    const data = created.data as { id?: number; message?: string };
    if (typeof data.id !== 'number') throw new Error(`GitHub did not create the deployment: ${data.message ?? 'no id in the answer'}`);
    this.#deployments.set(runKey, data.id);
    this.#o.logger.info({ key: `${c.namespace}/${c.name}`, repo: `${owner}/${repo}`, deployment: data.id, ref, environment: gh.environment }, 'github deployment created');
    return data.id;
  }

  async #defaultBranch(octokit: GitHub, owner: string, repo: string): Promise<string> {
    const k = `${owner}/${repo}`;
    const cached = this.#defaultBranches.get(k);
    if (cached) return cached;
    const r = await octokit.rest.repos.get({ owner, repo });
    this.#defaultBranches.set(k, r.data.default_branch);
    return r.data.default_branch;
  }
}

export function issueTitle(c: PhaseChange): string {
  return `Cutover rolled back: ${c.namespace}/${c.name}${c.rollback ? ` (${c.rollback.trigger})` : ''}`;
}

export function issueBody(c: PhaseChange, environment: string, deploymentId: number): string {
  return [
    `**${summary(c)}**`,
    '',
    '| | |',
    '|---|---|',
    `| resource | \`${c.kind}\` \`${c.namespace}/${c.name}\` (run ${c.run}) |`,
    `| environment | ${environment} (deployment ${deploymentId}) |`,
    `| trigger | ${c.rollback?.trigger ?? 'unknown'} |`,
    `| reason | ${(c.rollback?.reason ?? c.message).replace(/\|/g, '\\|')} |`,
    `| at | ${c.at} |`,
    '',
    'Traffic is back on the stable backend. Inspect with:',
    '```',
    `kubectl cutover status ${c.name} -n ${c.namespace}`,
    '```',
    `Run it again after a fix with \`kubectl cutover retry ${c.name} -n ${c.namespace}\` (or apply a new spec).`,
  ].join('\n');
}

function safeParse(s: string): unknown {
  try { return JSON.parse(s); } catch { return undefined; }
}
