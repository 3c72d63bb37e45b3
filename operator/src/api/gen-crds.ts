// `npm run gen:crds`: writes crds/*.yaml from the zod schemas. `--check` only compares.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrds } from './crd.ts';

export const CRD_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../crds');

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const outDir = CRD_DIR;
  let stale = 0;
  if (!check) mkdirSync(outDir, { recursive: true });
  for (const { file, content } of renderCrds()) {
    const target = join(outDir, file);
    const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
    if (current === content) continue;
    if (check) {
      process.stderr.write(`crds/${file} is out of date: run \`npm run gen:crds\`\n`);
      stale += 1;
    } else {
      writeFileSync(target, content);
      process.stdout.write(`wrote crds/${file}\n`);
    }
  }
  return stale === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('gen-crds.ts')) {
  process.exitCode = main(process.argv.slice(2));
}
