/** Certificates for TLS tests, made by openssl: a CA and the certificates it signs. */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface CertificateSpec {
  /** Files `<name>.crt` and `<name>.key`. */
  readonly name: string;
  /** openssl's -subj, e.g. `/CN=127.0.0.1`. */
  readonly subject: string;
  /** X.509 v3 extensions, one per line, e.g. `subjectAltName=IP:127.0.0.1`. */
  readonly ext: string;
}

/** Writes a CA (`ca.crt`, `ca.key`) and the certificates `specs` describe, signed by it and valid for two days, into `dir`; returns a file's path there. */
export async function makeCertificates(dir: string, specs: readonly CertificateSpec[]): Promise<(file: string) => string> {
  const openssl = (args: string[]) => promisify(execFile)('openssl', args, { cwd: dir });
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=strata test CA', '-keyout', 'ca.key', '-out', 'ca.crt']);
  for (const { name, subject, ext } of specs) {
    await writeFile(join(dir, `${name}.ext`), `${ext}\n`);
    await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
    await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  }
  return (file) => join(dir, file);
}
