// Certificates and credentials for the local control plane, made with openssl (Debian ships it).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pki { dir: string; caCert: string; caKey: string; serverCert: string; serverKey: string; saKey: string; saPub: string; tokenFile: string; adminToken: string }

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Creates (once) a CA, an API server serving cert for 127.0.0.1, a service-account key pair and an admin token. */
export function ensurePki(dir: string): Pki {
  mkdirSync(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  const pki: Pki = {
    dir, caCert: p('ca.crt'), caKey: p('ca.key'), serverCert: p('apiserver.crt'), serverKey: p('apiserver.key'),
    saKey: p('sa.key'), saPub: p('sa.pub'), tokenFile: p('tokens.csv'), adminToken: '',
  };
  if (!existsSync(pki.caCert)) {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', '/CN=cutover-testbed-ca'], dir);
  }
  // 10.88.0.1: the real node's pods reach the API server there (realnode.ts). A certificate made
  // before that address was added is made again.
  const serverExt = 'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,IP:10.88.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n';
  if (!existsSync(pki.serverCert) || !existsSync(p('apiserver.ext')) || readFileSync(p('apiserver.ext'), 'utf8') !== serverExt) {
    writeFileSync(p('apiserver.ext'), serverExt);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'apiserver.key', '-out', 'apiserver.csr', '-subj', '/CN=kube-apiserver'], dir);
    openssl(['x509', '-req', '-in', 'apiserver.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'apiserver.crt', '-days', '3650', '-extfile', 'apiserver.ext'], dir);
  }
  if (!existsSync(pki.saKey)) {
    openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
    openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  }
  if (!existsSync(pki.tokenFile)) {
    const token = randomBytes(24).toString('hex');
    writeFileSync(pki.tokenFile, `${token},admin,admin,"system:masters"\n`, { mode: 0o600 });
  }
  pki.adminToken = execFileSync('cut', ['-d,', '-f1', pki.tokenFile]).toString().trim();
  return pki;
}

export function kubeconfigYaml(server: string, caCert: string, token: string, user = 'admin'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: testbed',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${caCert}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: testbed',
    '  context:',
    '    cluster: testbed',
    `    user: ${user}`,
    'current-context: testbed',
    '',
  ].join('\n');
}

/**
 * A client certificate signed by the testbed CA (created once): `cn` is the user name, `org` the
 * group, as the API server and the kubelet read them (e.g. system:node:NAME / system:nodes).
 */
export function ensureClientCert(pki: Pki, name: string, cn: string, org: string): { cert: string; key: string } {
  const cert = join(pki.dir, `${name}.crt`);
  const key = join(pki.dir, `${name}.key`);
  if (!existsSync(cert)) {
    writeFileSync(join(pki.dir, `${name}.ext`), 'extendedKeyUsage=clientAuth\n');
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=${org}/CN=${cn}`], pki.dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '3650', '-extfile', `${name}.ext`], pki.dir);
  }
  return { cert, key };
}
