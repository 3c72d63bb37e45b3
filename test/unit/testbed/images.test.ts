// The testbed's operator image is the Dockerfile's content: describeOperatorImage reads the Dockerfile
// and the image is built from what it returns, and any instruction it does not reproduce is an error.
// These tests fail when the Dockerfile changes in a way the testbed image would not follow.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backendImageSpec, describeOperatorImage, operatorImageSpec, parseDockerfile } from '../../testbed/images.ts';
import { REPO_ROOT } from '../../testbed/paths.ts';

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');

describe('the testbed operator image and the Dockerfile', () => {
  it('every instruction of the Dockerfile is one the testbed image reproduces', () => {
    const d = describeOperatorImage(dockerfile);
    // What a user's `docker build` gives, as the testbed builds it.
    expect(d.workdir).toBe('/app');
    expect(d.user).toBe('65532:65532');
    expect(d.account).toEqual({ name: 'cutover', uid: 65532, gid: 65532, home: '/nonexistent', shell: '/usr/sbin/nologin' });
    expect(d.env).toEqual({ NODE_ENV: 'production' });
    // Nothing from the build context and no node_modules: the bundle the build stage made, only.
    expect(d.copies).toEqual([]);
    expect(d.built).toEqual([{ from: 'dist', to: './dist' }]);
  });

  it('the image config carries the Dockerfile ENTRYPOINT, USER, WORKDIR, ENV and EXPOSE as written there', () => {
    const entry = parseDockerfile(dockerfile).find((i) => i.op === 'ENTRYPOINT')!;
    const spec = operatorImageSpec(dockerfile);
    expect(spec.config.Entrypoint).toEqual(JSON.parse(entry.args));
    expect(spec.config.User).toBe(parseDockerfile(dockerfile).find((i) => i.op === 'USER')!.args);
    expect(spec.config.WorkingDir).toBe('/app');
    expect(spec.config.Env).toContain('NODE_ENV=production');
    expect(Object.keys(spec.config.ExposedPorts ?? {})).toEqual(['8080/tcp']);
    // The bundle (this checkout's dist/, which buildImage makes first: spec.prepare) and the node
    // binary where node:24-slim has it; no sources, no node_modules at all.
    const paths = spec.rootfs.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['app/dist', 'usr/local/bin/node']));
    expect(spec.rootfs.find((e) => e.path === 'app/dist')).toMatchObject({ kind: 'tree', from: join(REPO_ROOT, 'dist') });
    expect(spec.prepare).toBeTypeOf('function');
    expect(paths.filter((p) => p.startsWith('app/') && p !== 'app/dist')).toEqual([]);
  });

  it('the backend image keeps Node and the production packages, without the operator bundle', () => {
    const paths = backendImageSpec(operatorImageSpec(dockerfile)).rootfs.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['usr/local/bin/node', 'app/package.json', 'app/node_modules/prom-client', 'app/test/testbed/dataplane/backend.ts']));
    expect(paths).not.toContain('app/dist');
    expect(paths.some((p) => /node_modules\/(vitest|typescript|eslint)$/.test(p))).toBe(false);
  });

  it.each([
    ['a COPY form the testbed does not reproduce (--chown)', (s: string) => s.replace('COPY --from=build /app/dist ./dist', 'COPY --chown=65532:65532 --from=build /app/dist ./dist'), /COPY --chown=65532:65532 --from=build \/app\/dist \.\/dist: unknown COPY form/],
    ['a stage the testbed does not know', (s: string) => s.replace('FROM node:24-slim AS build', 'FROM node:24-slim AS builder'), /AS builder: unexpected stage/],
    ['another build command', (s: string) => s.replace('RUN node operator/build.ts', 'RUN node operator/build.ts --no-minify'), /RUN node operator\/build\.ts --no-minify: unknown in the build stage/],
    ['a build stage that stops before the build', (s: string) => s.replace('RUN node operator/build.ts\n', ''), /the build stage ends before `RUN node operator\/build\.ts`/],
    ['a RUN step in the runtime stage', (s: string) => s.replace('USER 65532:65532', 'RUN apt-get install -y curl\nUSER 65532:65532'), /RUN apt-get install -y curl: unknown RUN/],
    ['a different base image', (s: string) => s.replace(/^FROM node:24-slim$/m, 'FROM gcr.io/distroless/nodejs24-debian12'), /FROM gcr\.io\/distroless/],
    ['another install command in the build stage', (s: string) => s.replace('RUN npm ci --ignore-scripts', 'RUN npm ci'), /RUN npm ci: unknown in the build stage/],
    ['an ENTRYPOINT in shell form', (s: string) => s.replace(/^ENTRYPOINT .*$/m, 'ENTRYPOINT node dist/main.mjs'), /exec \(JSON\) form/],
    ['a HEALTHCHECK', (s: string) => `${s}\nHEALTHCHECK CMD ["node", "-e", "1"]\n`, /HEALTHCHECK.*unknown instruction/],
  ])('drift is an error naming the line: %s', (_what, change, message) => {
    const changed = change(dockerfile);
    expect(changed).not.toBe(dockerfile);
    expect(() => describeOperatorImage(changed)).toThrow(message);
  });

  it('a new COPY in the Dockerfile is shipped in the testbed image too', () => {
    const spec = operatorImageSpec(dockerfile.replace('COPY --from=build /app/dist ./dist', 'COPY --from=build /app/dist ./dist\nCOPY charts ./charts'));
    expect(spec.rootfs.find((e) => e.path === 'app/charts')).toMatchObject({ kind: 'tree', from: join(REPO_ROOT, 'charts') });
  });

  it('a changed ENTRYPOINT or user follows into the image config (one source)', () => {
    const changed = dockerfile.replace('"--heap-growing-percent=20", ', '').replace(/--uid 65532 --gid 65532/, '--uid 65533 --gid 65532');
    const spec = operatorImageSpec(changed);
    expect(spec.config.Entrypoint).toEqual(['node', '--max-semi-space-size=2', 'dist/main.mjs']);
    const passwd = spec.rootfs.find((e) => e.path === 'etc/passwd');
    expect(passwd && 'content' in passwd ? passwd.content : '').toContain('cutover:x:65533:65532:');
  });
});
