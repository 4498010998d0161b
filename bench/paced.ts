/**
 * A minimal HTTP/1.1 load generator over keep-alive sockets, for latency. autocannon is kept for
 * throughput, but two things in autocannon 8 make it wrong for latency against offered load:
 *  - `overallRate` is a per-connection budget per second: each connection sends its quota back to
 *    back at the start of every second and then idles, so "half load" is full load half the time;
 *  - with a rate, its histogram corrects for coordinated omission with an expected interval of
 *    `Math.ceil(1 / rate)` = 1 ms whatever the rate, which adds synthetic samples to every response
 *    slower than 1 ms and inflates the high percentiles.
 * This client is open-loop: request i is due at start + i / rate, and its latency runs from that
 * moment (not from when a socket became free) to the end of the response, so queueing in the
 * client counts, as it would for a real producer. In closed mode each connection sends its next
 * request when the previous answer arrives (to find the peak). Requests are pre-built bytes;
 * responses are parsed just enough to find their end and status.
 */
import { connect, type Socket } from 'node:net';

export interface PacedOptions {
  /** http://host:port */
  url: string;
  /** Complete request bytes for request number i. */
  request(i: number): Buffer;
  durationMs: number;
  connections: number;
  /** Requests per second, open loop; omit for closed loop (one in flight per connection). */
  rate?: number;
  /** After the duration, how long to wait for answers still due. */
  drainMs?: number;
}

export interface PacedResult {
  /** Offered requests per second (open loop), or undefined in closed mode. */
  offered?: number;
  /** Answers per second within the sending window. */
  achieved: number;
  sent: number;
  completed: number;
  non2xx: number;
  errors: number;
  /** Requests never answered before the drain ended. */
  unanswered: number;
  /** Latencies in ms, sorted. */
  latencies: Float64Array;
}

interface Conn {
  sock: Socket;
  busy: boolean;
  buf: Buffer;
  /** Due time of the request in flight (open loop) or its send time (closed loop). */
  t0: number;
}

/** End of the first complete response in buf, and its status; undefined if incomplete. */
export function parseResponse(buf: Buffer): { end: number; status: number } | undefined {
  const head = buf.indexOf('\r\n\r\n');
  if (head < 0) return undefined;
  const text = buf.toString('latin1', 0, head);
  const status = Number(text.slice(9, 12));
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(text);
  const length = m ? Number(m[1]) : 0;
  const end = head + 4 + length;
  return buf.length >= end ? { end, status } : undefined;
}

export async function paced(o: PacedOptions): Promise<PacedResult> {
  const { hostname, port } = new URL(o.url);
  const conns: Conn[] = await Promise.all(
    Array.from(
      { length: o.connections },
      () =>
        new Promise<Conn>((resolve, reject) => {
          const sock = connect({ host: hostname, port: Number(port), noDelay: true });
          sock.once('connect', () => resolve({ sock, busy: false, buf: Buffer.alloc(0), t0: 0 }));
          sock.once('error', reject);
        }),
    ),
  );
  const lat: number[] = [];
  let sent = 0;
  let completed = 0;
  let inWindow = 0;
  let non2xx = 0;
  let errors = 0;
  const idle: Conn[] = [...conns];
  /** Due times of requests waiting for a free connection (open loop). */
  const backlog: number[] = [];
  let backlogHead = 0;
  const start = performance.now();
  const stopAt = start + o.durationMs;
  let sending = true;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => (resolveDone = r));

  const send = (c: Conn, due: number) => {
    c.busy = true;
    c.t0 = due;
    c.sock.write(o.request(sent++));
  };
  const pump = () => {
    while (idle.length > 0 && backlogHead < backlog.length) send(idle.pop()!, backlog[backlogHead++]!);
    if (backlogHead > 4096 && backlogHead * 2 > backlog.length) {
      backlog.splice(0, backlogHead);
      backlogHead = 0;
    }
  };
  const finished = () => !sending && idle.length === conns.length && backlogHead >= backlog.length;

  for (const c of conns) {
    c.sock.on('data', (d: Buffer) => {
      c.buf = c.buf.length ? Buffer.concat([c.buf, d]) : d;
      for (;;) {
        const r = parseResponse(c.buf);
        if (!r) break;
        c.buf = c.buf.subarray(r.end);
        const now = performance.now();
        lat.push(now - c.t0);
        completed++;
        if (now <= stopAt) inWindow++;
        if (r.status < 200 || r.status >= 300) non2xx++;
        c.busy = false;
        if (o.rate === undefined) {
          if (now < stopAt) send(c, now);
          else idle.push(c);
        } else {
          idle.push(c);
          pump();
        }
      }
      if (finished()) resolveDone();
    });
    c.sock.on('error', () => {
      errors++;
    });
  }

  let timer: NodeJS.Timeout | undefined;
  if (o.rate === undefined) {
    for (const c of idle.splice(0)) send(c, performance.now());
    setTimeout(() => {
      sending = false;
      if (finished()) resolveDone();
    }, o.durationMs);
  } else {
    const interval = 1000 / o.rate;
    let due = 0;
    // Timers fire about every millisecond; each tick queues every request whose time has come.
    const tick = () => {
      const now = performance.now();
      const until = Math.min(now, stopAt);
      while (start + due * interval <= until) backlog.push(start + due++ * interval);
      pump();
      if (now >= stopAt) {
        sending = false;
        clearInterval(timer);
        if (finished()) resolveDone();
      }
    };
    timer = setInterval(tick, 1);
  }
  const drain = o.drainMs ?? 5000;
  const timeout = new Promise<void>((r) => setTimeout(r, o.durationMs + drain).unref());
  await Promise.race([done, timeout]);
  clearInterval(timer);
  const unanswered = sent - completed + (backlog.length - backlogHead);
  for (const c of conns) c.sock.destroy();
  const latencies = Float64Array.from(lat).sort();
  return {
    ...(o.rate === undefined ? {} : { offered: o.rate }),
    achieved: (inWindow / o.durationMs) * 1000,
    sent,
    completed,
    non2xx,
    errors,
    unanswered,
    latencies,
  };
}

/** Request bytes for a POST of `body` to `path` as application/octet-stream. */
export function postRequest(path: string, body: string | Buffer): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([
    Buffer.from(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: ${b.length}\r\n\r\n`, 'latin1'),
    b,
  ]);
}

export function getRequest(path: string): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, 'latin1');
}
