// `npm run gen:crds`: writes crds/*.yaml from the zod schemas, and the same files into the Helm
// chart's crds/ (so the two never drift). `--check` only compares.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrds } from './crd.ts';

export const CRD_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../crds');
export const CHART_CRD_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../charts/cutover/crds');

function main(argv: string[]): number {
  const check = argv.includes('--check');
  let stale = 0;
  for (const outDir of [CRD_DIR, CHART_CRD_DIR]) {
    const shown = outDir === CRD_DIR ? 'crds' : 'charts/cutover/crds';
    if (!check) mkdirSync(outDir, { recursive: true });
    for (const { file, content } of renderCrds()) {
      const target = join(outDir, file);
      const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
      if (current === content) continue;
      if (check) {
        process.stderr.write(`${shown}/${file} is out of date: run \`npm run gen:crds\`\n`);
        stale += 1;
      } else {
        writeFileSync(target, content);
        process.stdout.write(`wrote ${shown}/${file}\n`);
      }
    }
  }
  return stale === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('gen-crds.ts')) {
  process.exitCode = main(process.argv.slice(2));
}
