// Builds what ships: the operator and the parity comparator as minified ES modules with their
// dependencies bundled (esbuild), into ./dist (not committed). `npm run build`; `npm start` builds
// first when dist/ is missing or older than its inputs (`--if-stale`); the Dockerfile runs it in its
// build stage and the image holds dist/ only, no node_modules.
//   dist/main.mjs              the operator            (operator/src/main.ts)
//   dist/comparator-main.mjs   the parity comparator   (operator/src/comparator-main.ts)
//   dist/chunks/*.mjs          code both share, and what they load on first use only: the full
//                              Kubernetes client (OIDC/cloud auth providers), Octokit (GitHub reports)
//   *.map                      source maps (without the sources): `node --enable-source-maps` shows
//                              operator/src/... lines in stack traces
//   THIRD_PARTY_LICENSES.txt   the license of every package in the bundle
//   build.json                 what went in (for --if-stale) and the output sizes
// Why: an idle operator run from the TypeScript sources loads every module of every dependency
// it imports, as separate files, type-stripped at run time; the bundle is one parse of only
// the code reached (README › Performance › Memory).
import type { Plugin } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST = join(ROOT, 'dist');

/** The entrypoints: output name → source. */
export const ENTRYPOINTS = { main: 'operator/src/main.ts', 'comparator-main': 'operator/src/comparator-main.ts', 'kubectl-cutover': 'operator/src/cli/entry.ts' } as const;

/** The dashboard's committed web assets: the server reads them beside its own module (ASSETS_DIR). */
const DASHBOARD_SERVER = 'operator/src/cli/dashboard/server.ts';
const DASHBOARD_ASSETS = ['app.js', 'app.css', 'index.html'].map((f) => `operator/src/cli/dashboard/assets/${f}`);

/**
 * Bundled ESM has no `require`; the CommonJS dependencies (pino, prom-client, js-yaml ...) call it for
 * Node's built-in modules, so each output file gets one from createRequire.
 */
const BANNER = "import{createRequire as __cutoverRequire}from'node:module';const require=__cutoverRequire(import.meta.url);";

/**
 * Node's built-in modules through that `require`, also where the sources `import` them: an ES import
 * of a built-in builds its namespace, which reads every export, lazy getters included —
 * `node:http`'s WebSocket, CloseEvent and MessageEvent load Node's internal undici (~3 MB RSS) that
 * the operator never uses (it does not call fetch). Property reads on the required module are the same API.
 */
const builtinsViaRequire: Plugin = {
  name: 'builtins-via-require',
  setup(b) {
    b.onResolve({ filter: /^[a-z0-9_:/]+$/ }, (a) => {
      if (a.kind === 'require-call' || a.namespace === 'builtin' || !isBuiltin(a.path)) return undefined;
      return { path: a.path.startsWith('node:') ? a.path : `node:${a.path}`, namespace: 'builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (a) => ({ contents: `module.exports = require(${JSON.stringify(a.path)});`, loader: 'js' }));
  },
};

/**
 * `@sindresorhus/is` (got's type checks) builds two `Intl.ListFormat`s when it loads, for the text of
 * a failed assertion. Building one reads ICU's locale data out of the node binary: ~6 MB of RSS in
 * a process that never formats a list (measured in a bare Node 24: 41.6 → 47.7 MB). The bundle
 * builds each on its first `format()` instead; the module is otherwise as published. The build
 * fails if the package no longer has them as this expects (a new version: look again).
 */
const IS_MODULE = /[\\/]node_modules[\\/]@sindresorhus[\\/]is[\\/]distribution[\\/]index\.js$/;
const lazyListFormat: Plugin = {
  name: 'lazy-intl-list-format',
  setup(b) {
    b.onLoad({ filter: IS_MODULE }, (a) => {
      const src = readFileSync(a.path, 'utf8');
      const names: string[] = [];
      const contents = src.replace(/^const (\w+) = new Intl\.ListFormat\(([^;]*)\);$/gm, (_m, name: string, args: string) => {
        names.push(name);
        return `let ${name}$built; const ${name} = { format: (list) => (${name}$built ??= new Intl.ListFormat(${args})).format(list) };`;
      });
      const otherUse = names.find((n) => new RegExp(`\\b${n}\\b(?!\\$built| = \\{|\\.format\\()`).test(contents));
      if (names.length === 0 || /new Intl\.ListFormat\(/.test(contents.replace(/\(\w+\$built \?\?= new Intl\.ListFormat\(/g, '')) || otherUse) {
        throw new Error(`${a.path}: expected its top-level \`const x = new Intl.ListFormat(...)\` used only as x.format(...) (found ${names.join(', ') || 'none'}${otherUse ? `; ${otherUse} used otherwise` : ''})`);
      }
      return { contents, loader: 'js' };
    });
  },
};

export interface BuildInfo {
  /** The inputs (repository-relative), the lockfile and this script: --if-stale compares their mtimes with `builtAt`. */
  inputs: string[];
  builtAt: number;
  /** Output file (relative to dist/) → bytes. */
  outputs: Record<string, number>;
  /** What the outputs import from outside the bundle: Node's built-in modules only. */
  externals: string[];
  /** The chunks loaded by a dynamic import() only (relative to dist/) → the package or source file each starts from. */
  lazy: Record<string, string>;
}

/** The build's inputs that are newer than the last build, or 'no build' (none in `dist`). */
export function staleReason(dist = DIST): string | undefined {
  const infoFile = join(dist, 'build.json');
  if (!existsSync(infoFile)) return 'no build in dist/';
  const info = JSON.parse(readFileSync(infoFile, 'utf8')) as BuildInfo;
  for (const out of Object.keys(info.outputs)) if (!existsSync(join(dist, out))) return `dist/${out} is missing`;
  for (const rel of [...info.inputs, 'package-lock.json', 'operator/build.ts']) {
    let mtime: number;
    try { mtime = statSync(join(ROOT, rel)).mtimeMs; } catch { return `${rel} is gone`; }
    if (mtime > info.builtAt) return `${rel} changed`;
  }
  // A new source file is reached only through a changed one, so the list above covers it.
  return undefined;
}

/** The package directory (repository-relative) of a bundled node_modules file. */
function packageDir(input: string): string | undefined {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m?.[1];
}

function licenses(inputs: string[]): string {
  const dirs = [...new Set(inputs.map(packageDir).filter((d): d is string => d !== undefined))].sort();
  const parts: string[] = [];
  for (const dir of dirs) {
    const pkg = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
    const file = readdirSync(join(ROOT, dir)).find((f) => /^(licen[sc]e|copying)(\.(md|txt))?$/i.test(f));
    const text = file ? readFileSync(join(ROOT, dir, file), 'utf8').trim() : `(no license file in the package; package.json says ${pkg.license ?? 'nothing'})`;
    parts.push(`${pkg.name}@${pkg.version} (${pkg.license ?? 'unknown'})\n${'-'.repeat(72)}\n${text}\n`);
  }
  return `Third-party software bundled in dist/ (operator/build.ts), ${dirs.length} packages.\n\n${parts.join('\n')}`;
}

/** Bundles the entrypoints into `dist` (replaced as a whole: no stale chunks). */
export async function buildOperator(dist = DIST): Promise<BuildInfo> {
  const { build } = await import('esbuild');
  const tmp = `${dist}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  const builtAt = Date.now();
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ENTRYPOINTS,
    outdir: tmp,
    bundle: true, platform: 'node', format: 'esm', target: 'node24',
    // Chunks: the code the two entrypoints share, and each dynamic import() (client-node's full
    // KubeConfig, Octokit) in a file of its own that is read only when that import runs.
    splitting: true, chunkNames: 'chunks/[name]-[hash]', outExtension: { '.js': '.mjs' },
    minify: true, sourcemap: 'linked', sourcesContent: false,
    // The license texts go to THIRD_PARTY_LICENSES.txt, whole; the comments would only cost memory.
    legalComments: 'none',
    banner: { js: BANNER },
    plugins: [builtinsViaRequire, lazyListFormat],
    metafile: true, logLevel: 'warning',
  });
  // Files only: not esbuild's runtime (<runtime>) nor the built-ins' stand-ins (builtin:node:http).
  const inputs = Object.keys(result.metafile.inputs).filter((i) => !i.startsWith('<') && !/^[a-z]+:/.test(i)).sort();
  writeFileSync(join(tmp, 'THIRD_PARTY_LICENSES.txt'), licenses(inputs));
  const outputs: Record<string, number> = {};
  const externals = new Set<string>();
  const dynamic = new Set<string>();
  const rel = (file: string) => relative(tmp, join(ROOT, file));
  for (const [file, o] of Object.entries(result.metafile.outputs)) {
    outputs[rel(file)] = o.bytes;
    for (const i of o.imports) {
      if (i.external) externals.add(i.path);
      else if (i.kind === 'dynamic-import') dynamic.add(rel(i.path));
    }
  }
  // The dashboard server resolves `./assets/` from its own output file: copy the assets beside it.
  const serverOut = Object.entries(result.metafile.outputs).find(([, o]) => Object.keys(o.inputs).includes(DASHBOARD_SERVER))?.[0];
  if (!serverOut) throw new Error(`${DASHBOARD_SERVER} is not in any output`);
  const assetsDir = join(dirname(join(ROOT, serverOut)), 'assets');
  mkdirSync(assetsDir, { recursive: true });
  for (const a of DASHBOARD_ASSETS) copyFileSync(join(ROOT, a), join(assetsDir, a.split('/').at(-1)!));
  const lazy: Record<string, string> = {};
  for (const [file, o] of Object.entries(result.metafile.outputs)) if (dynamic.has(rel(file))) lazy[rel(file)] = o.entryPoint ?? '?';
  const info: BuildInfo = { inputs: [...inputs, ...DASHBOARD_ASSETS], builtAt, outputs, externals: [...externals].sort(), lazy };
  writeFileSync(join(tmp, 'build.json'), `${JSON.stringify(info, null, 1)}\n`);
  mkdirSync(dirname(dist), { recursive: true });
  rmSync(dist, { recursive: true, force: true });
  renameSync(tmp, dist);
  return info;
}

/** Builds unless `dist` is up to date with its inputs; says which. */
export async function ensureBuilt(dist = DIST): Promise<{ built: boolean; reason?: string }> {
  const reason = staleReason(dist);
  if (!reason) return { built: false };
  await buildOperator(dist);
  return { built: true, reason };
}

if (import.meta.main) {
  const ifStale = process.argv.includes('--if-stale');
  const t0 = Date.now();
  const reason = ifStale ? staleReason() : 'asked';
  if (!reason) {
    console.error('dist/ is up to date');
  } else {
    const info = await buildOperator();
    const kib = (f: string) => `${(info.outputs[f]! / 1024).toFixed(0)} KiB`;
    const chunks = Object.keys(info.outputs).filter((f) => f.startsWith('chunks/') && f.endsWith('.mjs'));
    console.error(`dist/ built (${ifStale ? reason : 'npm run build'}) in ${((Date.now() - t0) / 1000).toFixed(1)} s: main.mjs ${kib('main.mjs')}, comparator-main.mjs ${kib('comparator-main.mjs')}, ${chunks.length} chunks ${(chunks.reduce((s, f) => s + info.outputs[f]!, 0) / 1024).toFixed(0)} KiB`);
  }
}
