/**
 * A minimal HTTP/1.1 GET load generator with pipelining, for answers whose bodies make autocannon
 * the bottleneck (8 KiB tiles: autocannon tops out near 8,000 req/s here against a server that
 * does no work). Each connection keeps `depth` requests written ahead; responses are matched to
 * requests in order (HTTP/1.1 answers pipelined requests in order), framed by Content-Length
 * (paced.ts parseResponse) and their bodies skipped unread. Latency runs from writing a request
 * to the end of its response, so it includes the time spent queued behind the requests written
 * before it on the same connection.
 */
import { connect } from 'node:net';
import { quantile } from './lib.js';
import { parseResponse } from './paced.js';
import type { LoadResult } from './servers.js';

export interface PipelinedOptions {
  /** http://host:port of the server (loopback). */
  url: string;
  /** The path of request i. */
  path: (i: number) => string;
  connections?: number;
  depth?: number;
  durationMs: number;
}

export async function pipelinedGets(o: PipelinedOptions): Promise<LoadResult> {
  const { hostname, port } = new URL(o.url);
  const connections = o.connections ?? 16;
  const depth = o.depth ?? 16;
  const lat: number[] = [];
  let next = 0;
  let non2xx = 0;
  let errors = 0;
  let first = 0;
  let last = 0;
  const start = performance.now();
  const stopAt = start + o.durationMs;

  const one = () =>
    new Promise<void>((resolve) => {
      const socket = connect(Number(port), hostname);
      const sent: number[] = [];
      let buf: Buffer = Buffer.alloc(0);
      const fill = () => {
        let out = '';
        while (sent.length < depth && performance.now() < stopAt) {
          out += `GET ${o.path(next++)} HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`;
          sent.push(performance.now());
        }
        if (out) socket.write(out);
        if (sent.length === 0) socket.end();
      };
      socket.on('connect', fill);
      socket.on('data', (d: Buffer) => {
        buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
        for (;;) {
          const r = parseResponse(buf);
          if (!r) break;
          buf = buf.subarray(r.end);
          if (r.status < 200 || r.status >= 300) non2xx++;
          lat.push(performance.now() - sent.shift()!);
          last = Number(process.hrtime.bigint() / 1000n);
          first ||= last;
        }
        fill();
      });
      socket.on('error', () => {
        errors++;
        resolve();
      });
      socket.on('close', () => resolve());
    });

  await Promise.all(Array.from({ length: connections }, one));
  lat.sort((a, b) => a - b);
  const seconds = (performance.now() - start) / 1000;
  return {
    rps: lat.length / seconds,
    p50: quantile(lat, 0.5),
    p99: quantile(lat, 0.99),
    max: lat.length ? lat[lat.length - 1]! : NaN,
    autocannonP99: NaN,
    errors,
    non2xx,
    window: [first, last],
  };
}
