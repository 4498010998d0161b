// A TCP port on 127.0.0.1 that was free a moment ago: for a server that must be restarted on the
// same address (gRPC clients keep their target), where port 0 would move it.
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
