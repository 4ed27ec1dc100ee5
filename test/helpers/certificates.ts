import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A CA (`ca.pem`) and a server certificate for 127.0.0.1 (or `addresses`) signed by it (`<name>.pem`, key
 * `<name>.key`), made with openssl in `directory`: TLS on loopback that clients verify for real. Returns the three paths.
 */
export function loopbackCertificates(directory: string, name: string, addresses: readonly string[] = ['127.0.0.1']): { readonly ca: string; readonly cert: string; readonly key: string } {
  const file = (each: string) => path.join(directory, each);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ellipticKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ellipticKey, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=Onboarder test CA');
  openssl('req', ...ellipticKey, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${name}`);
  writeFileSync(file(`${name}.ext`), `subjectAltName=${addresses.map((address) => `IP:${address}`).join(',')}\n`);
  openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file(`${name}.pem`), '-days', '2', '-extfile', file(`${name}.ext`));
  return { ca: file('ca.pem'), cert: file(`${name}.pem`), key: file(`${name}.key`) };
}
