// The pure parts of the worker-cutover tests' queue (test/testbed/queue/): the worker's settings and
// its failure schedule, the producer's pacing, the job count, the manifests and the images.
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { packageClosure, queueWorkerImageSpec, redisImageSpec, QUEUE_WORKER_IMAGE, REDIS_IMAGE, operatorImageSpec } from '../../testbed/images.ts';
import { REPO_ROOT } from '../../testbed/paths.ts';
import { failShare, parseWorkerConfig } from '../../testbed/queue/worker-config.ts';
import { enqueueOffsets, jobState, tallyFinishedBetween, tallyJobs, versionFailureRate, versionShare, type JobFields } from '../../testbed/queue/jobs.ts';
import { CONSUMER_LABEL, consumerManifests, redisManifests, VERSION_LABEL } from '../../testbed/queue/manifests.ts';
import { REAL_NODE_LABEL, REAL_NODE_TAINT } from '../../testbed/realnode.ts';
import { QUEUE_QUERIES, renderQuery } from '../../testbed/queue/queries.ts';

describe('the queue worker settings', () => {
  it('reads flags, falls back to the environment, and a flag wins over its variable', () => {
    const cfg = parseWorkerConfig(['--queue', 'scores', '--fail-ratio', '0.2', '--concurrency=3'], {
      QUEUE_NAME: 'ignored', REDIS_URL: 'redis://redis.shop.svc.cluster.local:6379', DELAY_MS: '50', WORKER_VERSION: 'new',
      DEPLOYMENT_NAME: 'score-worker', POD_NAME: 'score-worker-abc', POD_NAMESPACE: 'shop', LISTEN: '10.88.0.7:8080',
    });
    expect(cfg).toEqual({
      queue: 'scores', redisUrl: 'redis://redis.shop.svc.cluster.local:6379', concurrency: 3, failRatio: 0.2, delayMs: 50,
      version: 'new', deployment: 'score-worker', pod: 'score-worker-abc', namespace: 'shop', listen: '10.88.0.7:8080',
    });
  });

  it('has defaults for everything but the queue', () => {
    expect(parseWorkerConfig(['--queue', 'q'], { HOSTNAME: 'h' })).toEqual({
      queue: 'q', redisUrl: 'redis://127.0.0.1:6379', concurrency: 1, failRatio: 0, delayMs: 0,
      version: 'unknown', deployment: 'unknown', pod: 'h', namespace: 'default', listen: '127.0.0.1:8080',
    });
  });

  it.each([
    [[], {}, /missing the queue: --queue or QUEUE_NAME/],
    [['--queue', 'q', '--fail-ratio', '1.5'], {}, /--fail-ratio \(FAIL_RATIO\) must be between 0 and 1, got "1.5"/],
    [['--queue', 'q'], { CONCURRENCY: '0' }, /--concurrency \(CONCURRENCY\) must be an integer ≥ 1, got "0"/],
    [['--queue', 'q', '--delay-ms', 'slow'], {}, /--delay-ms \(DELAY_MS\) must be a number of ms ≥ 0/],
    [['--queue', 'q', '--redis-url', 'http://x'], {}, /must be redis:\/\/host\[:port\]/],
    [['--queue', 'q', '--failratio', '0.2'], {}, /unknown flag --failratio/],
  ])('refuses %j %j, naming the setting', (argv, env, message) => {
    expect(() => parseWorkerConfig(argv, env)).toThrow(message);
  });
});

describe('failShare: the injected failures', () => {
  const failures = (n: number, ratio: number) => Array.from({ length: n }, (_, i) => failShare(i, ratio)).filter(Boolean).length;

  it.each([[0, 100, 0], [0.2, 100, 20], [0.2, 7, 1], [0.25, 10, 2], [1 / 3, 9, 3], [0.05, 200, 10], [1, 13, 13]])(
    'ratio %d fails exactly ⌊n·ratio⌋ of the first n jobs (%d jobs → %d)', (ratio, n, expected) => {
      expect(failures(n, ratio)).toBe(expected);
    });

  it('spreads them evenly: 0.2 fails every 5th job, not the first ones', () => {
    expect(Array.from({ length: 10 }, (_, i) => failShare(i, 0.2))).toEqual([false, false, false, false, true, false, false, false, false, true]);
  });
});

describe('the producer pacing', () => {
  it('spaces the jobs evenly at the rate, the first at once', () => {
    expect(enqueueOffsets(5, 50)).toEqual([0, 20, 40, 60, 80]);
    expect(enqueueOffsets(0, 10)).toEqual([]);
  });

  it('refuses a rate that is not positive or a count that is not a whole number', () => {
    expect(() => enqueueOffsets(3, 0)).toThrow(/ratePerSecond must be > 0/);
    expect(() => enqueueOffsets(1.5, 10)).toThrow(/count must be an integer/);
  });
});

describe('the job count', () => {
  const stamp = (version: string, pod: string) => ({ version, deployment: `${version}-worker`, pod });
  const done = (id: string, version: string, pod: string): JobFields => ({ id, processedOn: 1, finishedOn: 2, returnvalue: stamp(version, pod), progress: stamp(version, pod) });
  const failed = (id: string, version: string, pod: string): JobFields => ({ id, processedOn: 1, finishedOn: 2, failedReason: 'injected failure', returnvalue: null, progress: stamp(version, pod) });

  it('tells a job\'s state from its own fields', () => {
    expect(jobState({ id: '1' })).toBe('waiting');
    expect(jobState({ id: '1', processedOn: 5 })).toBe('active');
    expect(jobState({ id: '1', processedOn: 5, finishedOn: 6 })).toBe('completed');
    expect(jobState({ id: '1', processedOn: 5, finishedOn: 6, failedReason: 'boom' })).toBe('failed');
  });

  it('counts by state, by version and by pod; a failed job is the version of the worker that took it; an id Redis lacks is missing', () => {
    const ids = ['1', '2', '3', '4', '5', '6', '7'];
    const jobs = [done('1', 'legacy', 'l-a'), done('2', 'new', 'n-a'), failed('3', 'new', 'n-b'), { id: '4', processedOn: 3 }, { id: '5' }, undefined, { id: '7', finishedOn: 2 }];
    const t = tallyJobs(ids, jobs);
    expect(t).toEqual({
      total: 7, completed: 3, failed: 1, active: 1, waiting: 1, missing: ['6'],
      byVersion: { legacy: { completed: 1, failed: 0 }, new: { completed: 1, failed: 1 }, unknown: { completed: 1, failed: 0 } },
      byPod: { 'l-a': { completed: 1, failed: 0 }, 'n-a': { completed: 1, failed: 0 }, 'n-b': { completed: 0, failed: 1 }, unknown: { completed: 1, failed: 0 } },
    });
    // No job lost is: completed + failed + active + waiting + missing.length === total, with missing empty.
    expect(t.completed + t.failed + t.active + t.waiting + t.missing.length).toBe(t.total);
  });

  it('gives a version\'s share of the finished jobs and its failure rate', () => {
    const t = tallyJobs(['1', '2', '3', '4'], [done('1', 'legacy', 'a'), done('2', 'legacy', 'a'), done('3', 'new', 'b'), failed('4', 'new', 'b')]);
    expect(versionShare(t, 'new')).toBe(0.5);
    expect(versionShare(t, 'other')).toBe(0);
    expect(versionFailureRate(t, 'new')).toBe(0.5);
    expect(versionFailureRate(t, 'legacy')).toBe(0);
    expect(versionShare(tallyJobs([], []), 'new')).toBe(0);
  });

  it('counts the jobs finished in a window: who worked while a step held, whenever the job was enqueued', () => {
    const at = (j: JobFields, finishedOn: number): JobFields => ({ ...j, finishedOn });
    const jobs = [at(done('1', 'legacy', 'a'), 999), at(done('2', 'new', 'b'), 1000), at(failed('3', 'new', 'b'), 1500), at(done('4', 'legacy', 'a'), 2000), { id: '5', processedOn: 1200 }, undefined];
    const t = tallyFinishedBetween(jobs, 1000, 2000);
    expect(t).toMatchObject({ total: 2, completed: 1, failed: 1, missing: [], byVersion: { new: { completed: 1, failed: 1 } } });
    expect(versionShare(t, 'new')).toBe(1);
  });
});

interface Deployment {
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: {
        nodeSelector: Record<string, string>; tolerations: unknown[]; terminationGracePeriodSeconds: number;
        containers: Array<{ image: string; imagePullPolicy: string; args?: string[]; env: Array<{ name: string; value?: string }>; readinessProbe: Record<string, unknown> }>;
      };
    };
  };
}
const docs = (yaml: string) => yaml.split(/^---$/m).map((d) => load(d) as Deployment);

describe('the queue manifests', () => {
  it('a consumer Deployment runs the worker image on the real node, Ready only while consuming, scraped by annotation', () => {
    const [d] = docs(consumerManifests({ namespace: 'shop', name: 'score-worker', version: 'new', queue: 'scores', replicas: 2, failRatio: 0.2, delayMs: 100, concurrency: 2, terminationGracePeriodSeconds: 5 }));
    expect(d!.kind).toBe('Deployment');
    expect(d!.spec.replicas).toBe(2);
    expect(d!.spec.selector.matchLabels).toEqual({ [CONSUMER_LABEL]: 'score-worker' });
    expect(d!.spec.template.metadata.labels).toMatchObject({ [CONSUMER_LABEL]: 'score-worker', [VERSION_LABEL]: 'new' });
    expect(d!.spec.template.metadata.annotations).toEqual({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' });
    const pod = d!.spec.template.spec;
    expect(pod.nodeSelector).toEqual({ [REAL_NODE_LABEL.key]: REAL_NODE_LABEL.value });
    expect(pod.tolerations).toEqual([{ key: REAL_NODE_TAINT.key, operator: 'Equal', value: REAL_NODE_TAINT.value, effect: REAL_NODE_TAINT.effect }]);
    expect(pod.terminationGracePeriodSeconds).toBe(5);
    const c = pod.containers[0]!;
    expect(c.image).toBe(QUEUE_WORKER_IMAGE);
    expect(c.imagePullPolicy).toBe('Never');
    expect(c.readinessProbe).toMatchObject({ httpGet: { path: '/ready', port: 8080 } });
    const env = Object.fromEntries(c.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    expect(env).toEqual({
      QUEUE_NAME: 'scores', REDIS_URL: 'redis://redis.shop.svc.cluster.local:6379', CONCURRENCY: '2', FAIL_RATIO: '0.2', DELAY_MS: '100',
      WORKER_VERSION: 'new', DEPLOYMENT_NAME: 'score-worker', LISTEN: '$(POD_IP):8080',
    });
    // $(POD_IP) is expanded by the kubelet only from a variable defined before it.
    expect(c.env.findIndex((e) => e.name === 'POD_IP')).toBeLessThan(c.env.findIndex((e) => e.name === 'LISTEN'));
  });

  it('the worker settings the manifest passes are the ones the worker reads', () => {
    const [d] = docs(consumerManifests({ namespace: 'shop', name: 'monolith-worker', version: 'legacy', queue: 'scores', replicas: 1 }));
    const env = Object.fromEntries(d!.spec.template.spec.containers[0]!.env.map((e) => [e.name, e.value ?? '10.88.0.9']));
    env.LISTEN = '127.0.0.1:8080';
    expect(parseWorkerConfig([], env)).toMatchObject({ queue: 'scores', version: 'legacy', deployment: 'monolith-worker', failRatio: 0, delayMs: 0, concurrency: 1 });
  });

  it('Redis runs from its image on the real node behind the Service redis, nothing persisted, noeviction', () => {
    const [ns, d, svc] = docs(redisManifests('shop'));
    expect(ns!.kind).toBe('Namespace');
    expect(svc!.kind).toBe('Service');
    expect(svc!.metadata.name).toBe('redis');
    const c = d!.spec.template.spec.containers[0]!;
    expect(c.image).toBe(REDIS_IMAGE);
    expect(c.args).toEqual(['--bind', '$(POD_IP)', '127.0.0.1', '--port', '6379', '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--dir', '/data']);
    expect(d!.spec.template.spec.nodeSelector).toEqual({ [REAL_NODE_LABEL.key]: REAL_NODE_LABEL.value });
  });
});

describe('the queue images', () => {
  it('packageClosure finds a package\'s run-time dependencies as Node resolves them, nested ones included', () => {
    const dirs = packageClosure(['bullmq']);
    expect(dirs).toEqual(expect.arrayContaining(['node_modules/bullmq', 'node_modules/msgpackr', 'node_modules/cron-parser', 'node_modules/tslib']));
    // bullmq pins a semver other than the root's: npm puts it under bullmq's own node_modules, and Node loads that one.
    expect(dirs).toContain('node_modules/bullmq/node_modules/semver');
    const bullmq = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', 'bullmq', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(bullmq.dependencies).every((dep) => dirs.some((d) => d.endsWith(`node_modules/${dep}`)))).toBe(true);
    expect(dirs.some((d) => /node_modules\/(vitest|typescript|eslint)$/.test(d))).toBe(false);
    expect(() => packageClosure(['no-such-package-here'])).toThrow(/package no-such-package-here \(needed by the image\) is not installed/);
  });

  it('the worker image has Node, prom-client, BullMQ and ioredis and the worker program, not the operator bundle', () => {
    const spec = queueWorkerImageSpec(operatorImageSpec());
    const paths = spec.rootfs.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['usr/local/bin/node', 'app/package.json', 'app/node_modules/prom-client', 'app/node_modules/bullmq', 'app/node_modules/ioredis',
      'app/test/testbed/queue/worker.ts', 'app/test/testbed/queue/worker-config.ts', 'app/test/testbed/dataplane/cli-util.ts']));
    expect(paths).not.toContain('app/dist');
    expect(spec.config.Entrypoint).toEqual(['node', 'test/testbed/queue/worker.ts']);
    expect(spec.config.User).toBe('65532:65532');
  });

  it('the Redis image is the binary under the name redis-server with its libraries, an account and a writable /data', () => {
    // Any dynamically linked binary shows the shape; the real one is Debian's redis-server (install-system.sh real-node).
    const spec = redisImageSpec(process.execPath);
    expect(spec.rootfs[0]).toEqual({ kind: 'file', path: 'usr/bin/redis-server', from: realpathSync(process.execPath) });
    expect(spec.rootfs.some((e) => e.kind === 'file' && /libc\.so/.test(e.path))).toBe(true);
    expect(spec.rootfs).toEqual(expect.arrayContaining([{ kind: 'dir', path: 'data', mode: 0o1777 }]));
    expect(spec.config).toMatchObject({ Entrypoint: ['/usr/bin/redis-server'], User: '999:999', WorkingDir: '/data' });
  });

  it('the real node\'s install step installs redis-server with its other packages', () => {
    expect(readFileSync(join(REPO_ROOT, 'test', 'testbed', 'build', 'install-system.sh'), 'utf8')).toContain('have redis-server || node+=(redis-server)');
  });
});

describe('the README\'s queue queries', () => {
  it.each(Object.entries(QUEUE_QUERIES))('the README shows %s as the e2e test runs it', (_name, query) => {
    const flat = (t: string) => t.replace(/\s+/g, ' ');
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Queue metrics (BullMQ)'));
    expect(flat(section)).toContain(flat(query));
  });

  it('renders the namespace as the operator does', () => {
    expect(renderQuery(QUEUE_QUERIES.waiting, 'shop')).toBe('max(bullmq_job_count{namespace="shop",queue="scores",state="waiting"})');
  });
});
