// A log that lies: an HTTP proxy in front of a real log that alters, on request, one byte of an
// entry bundle, one hash of a hash tile, one checkpoint signature, or serves an older (smaller)
// checkpoint. The explorer must notice each and say which check failed.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Tamper = 'none' | 'entry-byte' | 'proof-hash' | 'checkpoint-signature' | 'smaller-tree';

export interface TamperingProxy {
  url: string;
  mode: Tamper;
  /** The checkpoint served in 'smaller-tree' mode. */
  oldCheckpoint: string;
  close(): Promise<void>;
}

/** Flips one base64 character of the first signature line (after its 4-byte key ID), keeping it valid base64. */
export function breakSignature(note: string): string {
  const lines = note.split('\n');
  const i = lines.findIndex((l) => l.startsWith('\u2014 '));
  const line = lines[i]!;
  const at = line.lastIndexOf(' ') + 1 + 20;
  lines[i] = line.slice(0, at) + (line[at] === 'A' ? 'B' : 'A') + line.slice(at + 1);
  return lines.join('\n');
}

export async function startTamperingProxy(upstream: string): Promise<TamperingProxy> {
  const proxy: TamperingProxy = { url: '', mode: 'none', oldCheckpoint: '', close: async () => undefined };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = req.url ?? '/';
      const up = await fetch(`${upstream}${path}`, { method: req.method, headers: req.headers.authorization ? { authorization: req.headers.authorization } : {} });
      let body: Uint8Array = new Uint8Array(await up.arrayBuffer());
      if (path === '/checkpoint' && proxy.mode === 'checkpoint-signature') body = new TextEncoder().encode(breakSignature(new TextDecoder().decode(body)));
      if (path === '/checkpoint' && proxy.mode === 'smaller-tree') body = new TextEncoder().encode(proxy.oldCheckpoint);
      if (path.startsWith('/tile/entries/') && proxy.mode === 'entry-byte') {
        body = body.slice();
        body[body.length - 1]! ^= 0x01; // the last byte of the newest entry in the bundle
      }
      if (path.startsWith('/tile/0/') && proxy.mode === 'proof-hash') {
        body = body.slice();
        body[0]! ^= 0x01; // the first leaf hash: in the proof of every later leaf
      }
      const headers: Record<string, string> = {};
      for (const h of ['content-type', 'cache-control', 'content-security-policy']) {
        const v = up.headers.get(h);
        if (v) headers[h] = v;
      }
      res.writeHead(up.status, headers);
      res.end(body);
    })().catch((err: unknown) => {
      res.writeHead(502);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => new Promise((resolve) => server.close(() => resolve()));
  return proxy;
}
