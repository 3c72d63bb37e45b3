// Container images for the testbed's real node, without a registry and without Docker: a root
// filesystem assembled from files on this machine, packed as a docker-archive (one layer tar, a
// config, manifest.json) that `ctr images import` accepts. Deterministic: tar with sorted names,
// mtime 0 and owner 0, so the same files give the same digests.
//
// The operator image is derived from the Dockerfile itself (operatorImageSpec parses it): every
// instruction there maps to what the testbed puts in the image, and an instruction it does not know
// is an error. So the Dockerfile and the testbed image cannot drift silently (test/unit/testbed/images.test.ts).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, createReadStream, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { ensureBuilt } from '../../operator/build.ts';
import { CACHE_DIR, REPO_ROOT } from './paths.ts';

/** One entry of an image's root filesystem. */
export type RootfsEntry =
  | { kind: 'file'; path: string; from: string; mode?: number }
  | { kind: 'dir'; path: string; mode?: number }
  /** A directory (without what `exclude` names), or a single file, looked at when the image is assembled. */
  | { kind: 'tree'; path: string; from: string; exclude?: (rel: string) => boolean }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'text'; path: string; content: string; mode?: number };

export interface ImageSpec {
  /** The image reference, e.g. localhost/cutover/operator:testbed. */
  ref: string;
  rootfs: RootfsEntry[];
  config: { Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; User?: string; WorkingDir?: string; ExposedPorts?: Record<string, object>; Labels?: Record<string, string> };
  /** Makes what `rootfs` copies but this checkout does not have yet (the operator's bundle); run by buildImage first. */
  prepare?: () => Promise<void>;
}

export interface BuiltImage { ref: string; archive: string; layerDigest: string; configDigest: string }

const sha256File = (path: string): Promise<string> => new Promise((res, rej) => {
  const h = createHash('sha256');
  createReadStream(path).on('data', (c) => h.update(c)).on('end', () => res(h.digest('hex'))).on('error', rej);
});

/** A hard link where possible (same file system: no copy of a 126 MB node binary), else a copy. */
function place(from: string, to: string, mode?: number): void {
  mkdirSync(dirname(to), { recursive: true });
  if (mode === undefined) {
    try { linkSync(from, to); return; } catch { /* another file system */ }
  }
  copyFileSync(from, to);
  if (mode !== undefined) chmodSync(to, mode);
}

function placeTree(from: string, to: string, exclude: (rel: string) => boolean, base = from): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    const rel = relative(base, src);
    if (exclude(rel)) continue;
    const st = lstatSync(src);
    if (st.isSymbolicLink()) symlinkSync(readlinkSync(src), join(to, name));
    else if (st.isDirectory()) placeTree(src, join(to, name), exclude, base);
    else if (st.isFile()) place(src, join(to, name));
  }
}

function assemble(spec: ImageSpec, rootfs: string): void {
  rmSync(rootfs, { recursive: true, force: true });
  mkdirSync(rootfs, { recursive: true });
  for (const e of spec.rootfs) {
    const to = join(rootfs, e.path);
    if (e.kind === 'file') place(e.from, to, e.mode);
    else if (e.kind === 'dir') { mkdirSync(to, { recursive: true }); if (e.mode !== undefined) chmodSync(to, e.mode); }
    else if (e.kind === 'tree') {
      if (lstatSync(e.from).isDirectory()) placeTree(e.from, to, e.exclude ?? (() => false));
      else place(e.from, to);
    }
    else if (e.kind === 'symlink') { mkdirSync(dirname(to), { recursive: true }); symlinkSync(e.target, to); }
    else { mkdirSync(dirname(to), { recursive: true }); writeFileSync(to, e.content, { mode: e.mode ?? 0o644 }); }
  }
}

const TAR_DETERMINISTIC = ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=posix', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime'];

/**
 * A key for the assembled root filesystem: names, modes, and for each file its size, mtime and inode
 * (hard links to the sources) or, for files written here, its content. Same key, same archive.
 */
function rootfsKey(rootfs: string, spec: ImageSpec): string {
  const h = createHash('sha256').update(JSON.stringify({ ref: spec.ref, config: spec.config }));
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      h.update(`${relative(rootfs, p)}\0${st.mode}\0`);
      if (st.isSymbolicLink()) h.update(readlinkSync(p));
      else if (st.isDirectory()) walk(p);
      else if (st.nlink === 1) h.update(readFileSync(p));
      else h.update(`${st.size}:${st.mtimeMs}:${st.ino}`);
      h.update('\n');
    }
  };
  walk(rootfs);
  return h.digest('hex').slice(0, 24);
}

/** Builds the docker-archive for `spec` under the cache (reused when the same content was built before). */
export async function buildImage(spec: ImageSpec): Promise<BuiltImage> {
  const safe = spec.ref.replace(/[^a-zA-Z0-9_.-]/g, '_');
  const dir = join(CACHE_DIR, 'images');
  const work = join(dir, `${safe}.work`);
  const rootfs = join(work, 'rootfs');
  await spec.prepare?.();
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    assemble(spec, rootfs);
    const key = rootfsKey(rootfs, spec);
    const archive = join(dir, `${safe}-${key}.tar`);
    const meta = `${archive}.json`;
    if (existsSync(archive) && existsSync(meta)) return JSON.parse(readFileSync(meta, 'utf8')) as BuiltImage;
    const layer = join(work, 'layer.tar');
    execFileSync('tar', [...TAR_DETERMINISTIC, '-C', rootfs, '-cf', layer, '.']);
    const layerDigest = await sha256File(layer);
    const config = {
      architecture: 'amd64', os: 'linux',
      config: spec.config,
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
      history: [{ created_by: `cutover testbed (test/testbed/images.ts): ${spec.ref}` }],
    };
    const configJson = JSON.stringify(config);
    const configDigest = createHash('sha256').update(configJson).digest('hex');
    const pack = join(work, 'archive');
    mkdirSync(join(pack, layerDigest), { recursive: true });
    renameSync(layer, join(pack, layerDigest, 'layer.tar'));
    writeFileSync(join(pack, `${configDigest}.json`), configJson);
    writeFileSync(join(pack, 'manifest.json'), JSON.stringify([{ Config: `${configDigest}.json`, RepoTags: [spec.ref], Layers: [`${layerDigest}/layer.tar`] }]));
    execFileSync('tar', [...TAR_DETERMINISTIC, '-C', pack, '-cf', `${archive}.tmp`, 'manifest.json', `${configDigest}.json`, layerDigest]);
    renameSync(`${archive}.tmp`, archive);
    // Older archives of this image are garbage now.
    for (const f of readdirSync(dir)) if (f.startsWith(`${safe}-`) && !f.startsWith(`${safe}-${key}`)) rmSync(join(dir, f), { force: true });
    const built: BuiltImage = { ref: spec.ref, archive, layerDigest, configDigest };
    writeFileSync(meta, JSON.stringify(built));
    return built;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The shared libraries a dynamically linked binary loads (ldd), as absolute paths. */
export function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary]).toString();
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

/** A dynamically linked binary and its libraries, at the same paths in the image as on this machine. */
function binaryWithLibs(binary: string, at: string): RootfsEntry[] {
  const entries: RootfsEntry[] = [{ kind: 'file', path: at, from: realpathSync(binary) }];
  for (const lib of sharedLibraries(binary)) {
    entries.push({ kind: 'file', path: lib, from: realpathSync(lib) });
  }
  return entries;
}

export const PAUSE_IMAGE = 'localhost/cutover/pause:testbed';
export const OPERATOR_IMAGE = 'localhost/cutover/operator:testbed';
/** The testbed's backends (test/testbed/dataplane/backend.ts) as pods: backends.ts. */
export const BACKEND_IMAGE = 'localhost/cutover/test-backend:testbed';

/**
 * The sandbox ("pause") image: registry.k8s.io/pause cannot be pulled here, so a static busybox
 * whose shell sleeps until TERM. It only holds the pod's namespaces.
 */
export function pauseImageSpec(busybox: string): ImageSpec {
  return {
    ref: PAUSE_IMAGE,
    rootfs: [
      { kind: 'file', path: 'bin/busybox', from: realpathSync(busybox) },
      { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
      { kind: 'symlink', path: 'bin/sleep', target: 'busybox' },
    ],
    config: { Entrypoint: ['/bin/sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait; done'] },
  };
}

// ---------------------------------------------------------------------------------------------
// The operator image, from the Dockerfile.

export interface DockerInstruction { line: number; op: string; args: string }

/** The Dockerfile's instructions: comments and parser directives dropped, continuation lines joined. */
export function parseDockerfile(text: string): DockerInstruction[] {
  const out: DockerInstruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let l = lines[i]!;
    if (/^\s*(#|$)/.test(l)) continue;
    while (/\\\s*$/.test(l) && i + 1 < lines.length) {
      i++;
      const next = lines[i]!;
      if (/^\s*#/.test(next)) continue;
      l = `${l.replace(/\\\s*$/, '')} ${next.trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(l);
    if (!m) throw new Error(`Dockerfile line ${start + 1}: cannot parse: ${l}`);
    out.push({ line: start + 1, op: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, ' ').trim() });
  }
  return out;
}

/** KEY=value pairs of ENV / LABEL (values with or without double quotes). */
function keyValues(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z0-9_.-]+)=("((?:[^"\\]|\\.)*)"|\S+)/g;
  for (let m = re.exec(args); m; m = re.exec(args)) out[m[1]!] = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2]!;
  return out;
}

/** What the Dockerfile's instructions describe, as the testbed reproduces it. */
export interface OperatorImageDescription {
  base: string;
  workdir: string;
  user: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  exposed: string[];
  entrypoint: string[];
  /** Paths copied from the build context into the image, relative to WORKDIR → relative to the repository. */
  copies: Array<{ from: string; to: string }>;
  /**
   * What the build stage made (`node operator/build.ts`), copied into the image: the path in the
   * build stage relative to its WORKDIR (= relative to the repository, where the testbed runs the
   * same build) → relative to WORKDIR.
   */
  built: Array<{ from: string; to: string }>;
  account: { name: string; uid: number; gid: number; home: string; shell: string };
}

// The build stage the testbed knows how to reproduce, instruction by instruction, exactly as in the
// Dockerfile: the checkout's package files and operator/ with all its dependencies installed is what
// this repository already is (after `npm ci`), and the build runs here, on the host. A changed line
// is drift until the testbed does the same thing (and this table says so).
const BUILD_STAGE = 'build';
const BUILD_WORKDIR = '/app';
const KNOWN_BUILD_STEPS: ReadonlyArray<{ op: string; args: string }> = [
  { op: 'WORKDIR', args: BUILD_WORKDIR },
  { op: 'COPY', args: 'package.json package-lock.json ./' },
  { op: 'RUN', args: 'npm ci --ignore-scripts' },
  { op: 'COPY', args: 'operator ./operator' },
  { op: 'RUN', args: 'node operator/build.ts' },
];
const ACCOUNT_RUN = /^groupadd --system --gid (\d+) (\S+) && useradd --system --uid (\d+) --gid (\d+) --no-create-home --home-dir (\S+) --shell (\S+) (\S+)$/;

/**
 * Reads the Dockerfile into what the testbed's operator image must contain. Throws on any
 * instruction it does not reproduce: the message names the line.
 */
export function describeOperatorImage(dockerfile: string): OperatorImageDescription {
  const ins = parseDockerfile(dockerfile);
  const d: Partial<OperatorImageDescription> & { env: Record<string, string>; labels: Record<string, string>; exposed: string[]; copies: Array<{ from: string; to: string }>; built: Array<{ from: string; to: string }> } = { env: {}, labels: {}, exposed: [], copies: [], built: [] };
  let stage: 'none' | 'build' | 'final' = 'none';
  let buildStep = 0;
  const drift = (i: DockerInstruction, why: string) => new Error(`Dockerfile line ${i.line}: ${i.op} ${i.args}: ${why}; the testbed image (test/testbed/images.ts describeOperatorImage) does not reproduce it, teach it to`);
  for (const i of ins) {
    if (i.op === 'FROM') {
      const m = /^(\S+)(?: AS (\S+))?$/i.exec(i.args);
      if (!m || !/^node:24(-slim)?$/.test(m[1]!)) throw drift(i, 'the testbed provides a node:24 base only (the node binary of the `node` npm package and its libraries)');
      if (m[2] === BUILD_STAGE && stage === 'none') stage = 'build';
      else if (!m[2] && stage === 'build') {
        if (buildStep !== KNOWN_BUILD_STEPS.length) throw drift(i, `the build stage ends before \`${KNOWN_BUILD_STEPS[buildStep]!.op} ${KNOWN_BUILD_STEPS[buildStep]!.args}\``);
        stage = 'final'; d.base = m[1]!;
      } else throw drift(i, 'unexpected stage');
      continue;
    }
    if (stage === 'build') {
      if (i.op === 'ENV') continue; // npm's settings for the install: no effect on the result
      const want = KNOWN_BUILD_STEPS[buildStep];
      if (!want || want.op !== i.op || want.args !== i.args) throw drift(i, `unknown in the build stage (expected ${want ? `\`${want.op} ${want.args}\`` : 'the runtime stage'} here)`);
      buildStep++;
      continue;
    }
    if (stage !== 'final') throw drift(i, 'before the first FROM');
    switch (i.op) {
      case 'LABEL': Object.assign(d.labels, keyValues(i.args)); break;
      case 'ENV': Object.assign(d.env, keyValues(i.args)); break;
      case 'RUN': {
        const m = ACCOUNT_RUN.exec(i.args);
        if (!m || m[1] !== m[4] || m[2] !== m[7]) throw drift(i, 'unknown RUN');
        d.account = { name: m[2]!, gid: Number(m[1]), uid: Number(m[3]), home: m[5]!, shell: m[6]! };
        break;
      }
      case 'WORKDIR': d.workdir = i.args; break;
      case 'COPY': {
        const parts = i.args.split(' ');
        if (parts[0] === `--from=${BUILD_STAGE}`) {
          const from = parts[1] ?? '';
          if (parts.length !== 3 || !from.startsWith(`${BUILD_WORKDIR}/`)) throw drift(i, `unknown copy from the build stage (one path under ${BUILD_WORKDIR}, one target)`);
          const to = parts[2]!;
          d.built.push({ from: relative(BUILD_WORKDIR, from), to: to.endsWith('/') ? join(to, basename(from)) : to });
          break;
        }
        if (parts.some((p) => p.startsWith('--')) || parts.length < 2) throw drift(i, 'unknown COPY form');
        const to = parts.at(-1)!;
        for (const from of parts.slice(0, -1)) d.copies.push({ from, to: to.endsWith('/') ? join(to, from) : to });
        break;
      }
      case 'USER': d.user = i.args; break;
      case 'EXPOSE': d.exposed.push(...i.args.split(' ')); break;
      case 'ENTRYPOINT': {
        let arr: unknown;
        try { arr = JSON.parse(i.args); } catch { throw drift(i, 'ENTRYPOINT must be the exec (JSON) form'); }
        if (!Array.isArray(arr) || !arr.every((x) => typeof x === 'string')) throw drift(i, 'ENTRYPOINT must be a JSON array of strings');
        d.entrypoint = arr;
        break;
      }
      default: throw drift(i, 'unknown instruction');
    }
  }
  for (const k of ['base', 'workdir', 'user', 'entrypoint', 'account'] as const) {
    if (d[k] === undefined) throw new Error(`Dockerfile: no ${k} found; the testbed image needs it`);
  }
  return d as OperatorImageDescription;
}

/** The production dependencies' package directories (npm ls --omit=dev), relative to the repository. */
export function productionPackageDirs(root = REPO_ROOT): string[] {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, maxBuffer: 16 << 20 }).toString();
  const dirs = new Set<string>();
  for (const l of out.split('\n')) {
    const p = l.trim();
    if (!p || resolve(p) === resolve(root)) continue;
    dirs.add(relative(root, p));
  }
  return [...dirs].sort();
}

/** node:24-slim's PATH (where its node lives, /usr/local/bin), so the ENTRYPOINT's `node` resolves the same way. */
const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The operator image's spec: the Dockerfile's content, from this checkout and this machine's Node 24. */
export function operatorImageSpec(dockerfileText = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'), nodeBinary = join(REPO_ROOT, 'node_modules', 'node', 'bin', 'node')): ImageSpec {
  const d = describeOperatorImage(dockerfileText);
  const a = d.account;
  const rootfs: RootfsEntry[] = [
    ...binaryWithLibs(nodeBinary, 'usr/local/bin/node'),
    { kind: 'text', path: 'etc/passwd', content: `root:x:0:0:root:/root:/bin/sh\n${a.name}:x:${a.uid}:${a.gid}::${a.home}:${a.shell}\n` },
    { kind: 'text', path: 'etc/group', content: `root:x:0:\n${a.name}:x:${a.gid}:\n` },
    { kind: 'dir', path: 'tmp', mode: 0o1777 },
    { kind: 'dir', path: d.workdir.replace(/^\//, '') },
  ];
  for (const c of d.copies) {
    const from = join(REPO_ROOT, c.from);
    const to = join(d.workdir, c.to).replace(/^\//, '');
    if (lstatSync(from).isDirectory()) rootfs.push({ kind: 'tree', path: to, from });
    else rootfs.push({ kind: 'file', path: to, from });
  }
  // What the build stage made and the runtime stage copies: the testbed runs the same build
  // (operator/build.ts) in this checkout, where the build stage's inputs already are.
  for (const c of d.built) {
    rootfs.push({ kind: 'tree', path: join(d.workdir, c.to).replace(/^\//, ''), from: join(REPO_ROOT, c.from) });
  }
  return {
    ref: OPERATOR_IMAGE,
    rootfs,
    config: {
      Entrypoint: d.entrypoint,
      Env: [`PATH=${BASE_PATH}`, ...Object.entries(d.env).map(([k, v]) => `${k}=${v}`)],
      User: d.user,
      WorkingDir: d.workdir,
      ExposedPorts: Object.fromEntries(d.exposed.map((p) => [p.includes('/') ? p : `${p}/tcp`, {}])),
      Labels: d.labels,
    },
    ...(d.built.length ? { prepare: async () => { await ensureBuilt(); } } : {}),
  };
}

/**
 * The test-backend image: the operator image's Node and user, with the production packages
 * (prom-client is one; `npm ci --omit=dev`, as the operator image had them before it shipped the
 * bundle) and package.json, plus the backend program and its one helper, run as TypeScript.
 */
export function backendImageSpec(operator: ImageSpec = operatorImageSpec()): ImageSpec {
  const workdir = operator.config.WorkingDir ?? '/app';
  const inApp = (p: string) => join(workdir, p).replace(/^\//, '');
  const dataplane = join(REPO_ROOT, 'test', 'testbed', 'dataplane');
  return {
    ref: BACKEND_IMAGE,
    rootfs: [
      // Node, its libraries, passwd, /tmp, the empty WORKDIR; not what the operator image copies into it.
      ...operator.rootfs.filter((e) => !e.path.startsWith(`${inApp('')}/`)),
      { kind: 'file', path: inApp('package.json'), from: join(REPO_ROOT, 'package.json') },
      // Each package without its nested node_modules (those that are production dependencies are listed on their own).
      ...productionPackageDirs().map((pkg): RootfsEntry => ({ kind: 'tree', path: inApp(pkg), from: join(REPO_ROOT, pkg), exclude: (rel) => rel === 'node_modules' || rel.startsWith('node_modules/') })),
      ...['backend.ts', 'cli-util.ts'].map((f): RootfsEntry => ({ kind: 'file', path: inApp(join('test', 'testbed', 'dataplane', f)), from: join(dataplane, f) })),
    ],
    config: { ...operator.config, Entrypoint: ['node', 'test/testbed/dataplane/backend.ts'], Labels: {}, ExposedPorts: { '8080/tcp': {} } },
  };
}

/** The BullMQ consumer of the worker-cutover tests (test/testbed/queue/worker.ts) as pods: queue/cluster.ts. */
export const QUEUE_WORKER_IMAGE = 'localhost/cutover/test-queue-worker:testbed';
/** Redis, the queue's store, as a pod: queue/cluster.ts. */
export const REDIS_IMAGE = 'localhost/cutover/redis:testbed';

interface PackageJson { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }

/**
 * The installed package directories (relative to `root`) that `names` need at run time: each one and,
 * transitively, its dependencies and those of its optional dependencies that are installed, resolved
 * as Node does (the requiring package's own node_modules first, then each parent's up to the root).
 * A required dependency that is not installed is an error naming it.
 */
export function packageClosure(names: readonly string[], root = REPO_ROOT): string[] {
  const found = new Set<string>();
  const resolveFrom = (fromDir: string, name: string): string | undefined => {
    for (let dir = fromDir; ; dir = dirname(dir)) {
      const candidate = join(dir, 'node_modules', name);
      if (existsSync(join(candidate, 'package.json'))) return candidate;
      if (resolve(dir) === resolve(root) || dirname(dir) === dir) return undefined;
    }
  };
  const visit = (fromDir: string, name: string, required: boolean, by: string): void => {
    const dir = resolveFrom(fromDir, name);
    if (!dir) {
      if (required) throw new Error(`package ${name} (needed by ${by}) is not installed under ${root}: run npm ci`);
      return;
    }
    const rel = relative(root, dir);
    if (found.has(rel)) return;
    found.add(rel);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dir, dep, true, name);
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) visit(dir, dep, false, name);
  };
  for (const n of names) visit(root, n, true, 'the image');
  return [...found].sort();
}

/**
 * The queue worker's image: the backend image's base (the operator image's Node and user, the
 * production packages, package.json) plus BullMQ and ioredis with what they load (both are
 * devDependencies: the operator never talks to a queue), the worker program and its one helper.
 */
export function queueWorkerImageSpec(operator: ImageSpec = operatorImageSpec()): ImageSpec {
  const workdir = operator.config.WorkingDir ?? '/app';
  const inApp = (p: string) => join(workdir, p).replace(/^\//, '');
  const packages = [...new Set([...productionPackageDirs(), ...packageClosure(['bullmq', 'ioredis'])])].sort();
  return {
    ref: QUEUE_WORKER_IMAGE,
    rootfs: [
      ...operator.rootfs.filter((e) => !e.path.startsWith(`${inApp('')}/`)),
      { kind: 'file', path: inApp('package.json'), from: join(REPO_ROOT, 'package.json') },
      ...packages.map((pkg): RootfsEntry => ({ kind: 'tree', path: inApp(pkg), from: join(REPO_ROOT, pkg), exclude: (rel) => rel === 'node_modules' || rel.startsWith('node_modules/') })),
      { kind: 'file', path: inApp('test/testbed/queue/worker.ts'), from: join(REPO_ROOT, 'test', 'testbed', 'queue', 'worker.ts') },
      { kind: 'file', path: inApp('test/testbed/queue/worker-config.ts'), from: join(REPO_ROOT, 'test', 'testbed', 'queue', 'worker-config.ts') },
      { kind: 'file', path: inApp('test/testbed/dataplane/cli-util.ts'), from: join(REPO_ROOT, 'test', 'testbed', 'dataplane', 'cli-util.ts') },
    ],
    config: { ...operator.config, Entrypoint: ['node', 'test/testbed/queue/worker.ts'], Labels: {}, ExposedPorts: { '8080/tcp': {} } },
  };
}

/** The account Redis runs as in its image (Debian's package makes a system user `redis` too). */
export const REDIS_USER = { name: 'redis', uid: 999, gid: 999 } as const;

/**
 * Redis' image: Debian's redis-server (installed by install-system.sh real-node; pass the path
 * resolveRealNodeBinaries found) and its shared libraries at their paths on this machine, an empty
 * /data it may write to, and an account. No configuration file: the pod's args say everything
 * (queue/cluster.ts redisManifests). Debian ships redis-server as a symlink to redis-check-rdb, which
 * picks its mode from argv[0]: the image holds the file under the name redis-server.
 */
export function redisImageSpec(redisServer: string): ImageSpec {
  const u = REDIS_USER;
  return {
    ref: REDIS_IMAGE,
    rootfs: [
      ...binaryWithLibs(redisServer, 'usr/bin/redis-server'),
      { kind: 'text', path: 'etc/passwd', content: `root:x:0:0:root:/root:/bin/sh\n${u.name}:x:${u.uid}:${u.gid}::/data:/usr/sbin/nologin\n` },
      { kind: 'text', path: 'etc/group', content: `root:x:0:\n${u.name}:x:${u.gid}:\n` },
      { kind: 'dir', path: 'data', mode: 0o1777 },
      { kind: 'dir', path: 'tmp', mode: 0o1777 },
    ],
    config: { Entrypoint: ['/usr/bin/redis-server'], User: `${u.uid}:${u.gid}`, WorkingDir: '/data', ExposedPorts: { '6379/tcp': {} } },
  };
}
