/**
 * The ceiling for HTTP benchmarks: a bare fastify server with the same body parser and similar
 * answers as Candor's routes, doing no work. Run as a child process by bench/http.ts.
 */
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 65535 }, (_r, body, done) => done(null, body));
const proof = { index: 1, size: 1_000_000, leafHash: 'A'.repeat(44), proof: Array.from({ length: 20 }, () => 'B'.repeat(44)) };
// Distinct random tile bodies, as a real log serves: autocannon is much slower on varying binary
// bodies than on one repeated body, so the ceiling must be measured on the same kind of answers.
const tiles = Array.from({ length: 1024 }, () => randomBytes(8192));
app.post('/add', async (req) => ({ index: 1, leafHash: 'A'.repeat(44), checkpoint: 'x'.repeat(150), inclusionProof: proof.proof, duplicate: false, size: (req.body as Buffer).length }));
const consistency = { from: 1, to: 1_000_000, proof: proof.proof };
const checkpoint = `bench.example/log\n1000000\n${'C'.repeat(44)}\n\n\u2014 bench.example/log ${'D'.repeat(92)}\n`;
app.get('/proof/inclusion', async () => proof);
app.get('/proof/consistency', async () => consistency);
app.get('/checkpoint', async (_req, reply) => reply.type('text/plain; charset=utf-8').send(checkpoint));
app.get('/tile/*', async (req, reply) =>
  reply.type('application/octet-stream').send(tiles[Number(req.url.replaceAll(/[^0-9]/g, '').slice(-6)) % tiles.length]),
);
await app.listen({ host: '127.0.0.1', port: 0 });
const a = app.server.address();
process.stdout.write(`serving on http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}\n`);
