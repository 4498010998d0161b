/**
 * TLS for the HTTP listener, from PEM files: the server's certificate and key, and optionally a
 * CA for client certificates (mutual TLS for producers, as on gRPC). Client certificates are
 * requested and verified but not required, because reads are public; a producer registered with
 * an mTLS identity is refused without one (src/producers). The files are re-read when they change
 * (certificate rotation without a restart), as gRPC's FileWatcherCertificateProvider does.
 */
import { readFileSync, statSync } from 'node:fs';
import type { Server as HttpsServer, ServerOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { CandorError } from '@candor/core/errors';

export interface HttpTls {
  certFile: string;
  keyFile: string;
  /** CA for client certificates; when set, clients may authenticate with mutual TLS. */
  clientCaFile?: string;
}

function read(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CandorError('invalid_argument', `cannot read TLS file ${file}: ${(err as Error).message}`);
  }
}

/** node:https server options for `t`. */
export function httpsOptions(t: HttpTls): ServerOptions {
  return {
    cert: read(t.certFile),
    key: read(t.keyFile),
    ...(t.clientCaFile ? { ca: read(t.clientCaFile), requestCert: true, rejectUnauthorized: false } : {}),
  };
}

/** Re-reads the files every `everyMs` and installs them when one changed; returns a stop function. */
export function watchTls(server: HttpsServer, t: HttpTls, onError: (err: unknown) => void, everyMs = 60_000): () => void {
  const files = [t.certFile, t.keyFile, t.clientCaFile].filter((f): f is string => f !== undefined);
  const stamp = () => files.map((f) => statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? 0).join(':');
  let last = stamp();
  const timer = setInterval(() => {
    try {
      const now = stamp();
      if (now === last) return;
      // A certificate written before its key is caught here (they do not match) and retried.
      server.setSecureContext(httpsOptions(t));
      last = now;
    } catch (err) {
      onError(err);
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The client certificate of a request, when the TLS layer verified it against the client CA. */
export function verifiedPeerCertificate(req: FastifyRequest) {
  const socket = req.raw.socket as Partial<TLSSocket>;
  return socket.authorized && socket.getPeerCertificate ? socket.getPeerCertificate() : undefined;
}
