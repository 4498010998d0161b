// A throwaway PKI for TLS tests, made with openssl in a temp dir: CAs, and certificates they
// issue (server or client), each as <name>.crt and <name>.key.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './server.js';

export class Pki {
  readonly dir = tempDir('candor-pki-');

  #openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: 'pipe' });
  }

  /** A self-signed CA. */
  ca(name: string): this {
    this.#openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    return this;
  }

  /** A certificate for `subject` ("/CN=..."), with x509v3 extension lines `ext`, issued by `ca`. */
  issue(name: string, subject: string, ext: string, ca = 'ca'): this {
    this.#openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    writeFileSync(join(this.dir, `${name}.ext`), `${ext}\n`);
    this.#openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
    return this;
  }

  /** A server certificate for 127.0.0.1 and localhost. */
  server(name = 'server', ca = 'ca'): this {
    return this.issue(name, '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth', ca);
  }

  path(file: string): string {
    return join(this.dir, file);
  }

  pem(file: string): Buffer {
    return readFileSync(this.path(file));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
