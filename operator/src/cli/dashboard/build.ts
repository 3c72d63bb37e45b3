// Builds the dashboard's browser assets into ./assets/ (committed, served by the plugin as they are:
// no bundler, CDN or network at run time). `npm run build:dashboard`; a unit test fails when the
// committed assets differ from what the sources build to.
//   app.js   web/app.tsx bundled with Preact and uPlot (esbuild, minified, deterministic)
//   app.css  uPlot's stylesheet + web/style.css
//   index.html
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
export const WEB_DIR = join(HERE, 'web');

export interface BuiltAssets { 'app.js': string; 'app.css': string; 'index.html': string }

export async function buildAssets(): Promise<BuiltAssets> {
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [join(WEB_DIR, 'app.tsx')],
    bundle: true, minify: true, write: false, format: 'esm', target: 'es2022', platform: 'browser',
    jsx: 'automatic', jsxImportSource: 'preact', legalComments: 'inline', charset: 'utf8',
    logLevel: 'silent',
  });
  const js = out.outputFiles[0]!.text;
  const require = createRequire(import.meta.url);
  const uplotCss = readFileSync(join(require.resolve('uplot'), '..', 'uPlot.min.css'), 'utf8');
  const css = `/* uPlot ${readJson(require.resolve('uplot/package.json')).version} (MIT) */\n${uplotCss.trim()}\n${readFileSync(join(WEB_DIR, 'style.css'), 'utf8')}`;
  return { 'app.js': js, 'app.css': css, 'index.html': readFileSync(join(WEB_DIR, 'index.html'), 'utf8') };
}

function readJson(path: string): { version: string } {
  return JSON.parse(readFileSync(path, 'utf8')) as { version: string };
}

if (import.meta.main) {
  const assets = await buildAssets();
  const dir = join(HERE, 'assets');
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(assets)) writeFileSync(join(dir, name), text);
  console.log(`dashboard assets: ${Object.entries(assets).map(([n, t]) => `${n} ${(Buffer.byteLength(t) / 1024).toFixed(1)} KiB`).join(', ')}`);
}
