// The testbed's operator image is the Dockerfile's content: describeOperatorImage reads the Dockerfile
// and the image is built from what it returns, and any instruction it does not reproduce is an error.
// These tests fail when the Dockerfile changes in a way the testbed image would not follow.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeOperatorImage, operatorImageSpec, parseDockerfile } from '../../testbed/images.ts';
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
    expect(d.copies).toEqual([{ from: 'package.json', to: 'package.json' }, { from: 'operator', to: './operator' }]);
    expect(d.productionDeps).toBe('node_modules');
  });

  it('the image config carries the Dockerfile ENTRYPOINT, USER, WORKDIR, ENV and EXPOSE as written there', () => {
    const entry = parseDockerfile(dockerfile).find((i) => i.op === 'ENTRYPOINT')!;
    const spec = operatorImageSpec(dockerfile);
    expect(spec.config.Entrypoint).toEqual(JSON.parse(entry.args));
    expect(spec.config.User).toBe(parseDockerfile(dockerfile).find((i) => i.op === 'USER')!.args);
    expect(spec.config.WorkingDir).toBe('/app');
    expect(spec.config.Env).toContain('NODE_ENV=production');
    expect(Object.keys(spec.config.ExposedPorts ?? {})).toEqual(['8080/tcp']);
    // The operator's sources and package.json, the node binary where node:24-slim has it, and only
    // production dependencies (no vitest, no typescript).
    const paths = spec.rootfs.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['app/package.json', 'app/operator', 'usr/local/bin/node', 'app/node_modules/@kubernetes/client-node', 'app/node_modules/zod']));
    expect(paths.some((p) => /node_modules\/(vitest|typescript|eslint)$/.test(p))).toBe(false);
  });

  it.each([
    ['a COPY form the testbed does not reproduce (--chown)', (s: string) => s.replace('COPY operator ./operator', 'COPY --chown=65532:65532 operator ./operator'), /COPY --chown=65532:65532 operator \.\/operator: unknown COPY form/],
    ['a RUN step in the runtime stage', (s: string) => s.replace('USER 65532:65532', 'RUN apt-get install -y curl\nUSER 65532:65532'), /RUN apt-get install -y curl: unknown RUN/],
    ['a different base image', (s: string) => s.replace(/^FROM node:24-slim$/m, 'FROM gcr.io/distroless/nodejs24-debian12'), /FROM gcr\.io\/distroless/],
    ['another install command in the deps stage', (s: string) => s.replace('npm ci --omit=dev --ignore-scripts', 'npm ci --omit=dev'), /unknown in the deps stage/],
    ['an ENTRYPOINT in shell form', (s: string) => s.replace(/^ENTRYPOINT .*$/m, 'ENTRYPOINT node operator/src/main.ts'), /exec \(JSON\) form/],
    ['a HEALTHCHECK', (s: string) => `${s}\nHEALTHCHECK CMD ["node", "-e", "1"]\n`, /HEALTHCHECK.*unknown instruction/],
  ])('drift is an error naming the line: %s', (_what, change, message) => {
    const changed = change(dockerfile);
    expect(changed).not.toBe(dockerfile);
    expect(() => describeOperatorImage(changed)).toThrow(message);
  });

  it('a new COPY in the Dockerfile is shipped in the testbed image too', () => {
    const spec = operatorImageSpec(dockerfile.replace('COPY operator ./operator', 'COPY operator ./operator\nCOPY charts ./charts'));
    expect(spec.rootfs.find((e) => e.path === 'app/charts')).toMatchObject({ kind: 'tree', from: join(REPO_ROOT, 'charts') });
  });

  it('a changed ENTRYPOINT or user follows into the image config (one source)', () => {
    const changed = dockerfile.replace('"--heap-growing-percent=20", ', '').replace(/--uid 65532 --gid 65532/, '--uid 65533 --gid 65532');
    const spec = operatorImageSpec(changed);
    expect(spec.config.Entrypoint).toEqual(['node', '--max-semi-space-size=2', 'operator/src/main.ts']);
    const passwd = spec.rootfs.find((e) => e.path === 'etc/passwd');
    expect(passwd && 'content' in passwd ? passwd.content : '').toContain('cutover:x:65533:65532:');
  });
});
