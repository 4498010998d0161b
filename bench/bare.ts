/**
 * The ceiling for HTTP benchmarks: a bare fastify server with the same body parser and similar
 * answers as Candor's routes, doing no work. Run as a child process by bench/http.ts.
 *
 * With `--durable DIR`, POST /add is the least a durable log must do instead: group commit, each
 * group of bodies written to LevelDB in one synced write (one write at a time; bodies that arrive
 * meanwhile form the next group), every request answered once its group's write has returned.
 * No hashing, no tree, no proof: the ceiling for any handler that acknowledges only what is durable.
 * (Tried on this machine: two groups in flight made no measurable difference, four were slower,
 * and one synced put per request reached half the rate.)
 */
import { randomBytes } from 'node:crypto';
import { ClassicLevel } from 'classic-level';
import Fastify from 'fastify';

const durableDir = process.argv.includes('--durable') ? process.argv[process.argv.indexOf('--durable') + 1] : undefined;

const app = Fastify({ logger: false });
app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 65535 }, (_r, body, done) => done(null, body));
const proof = { index: 1, size: 1_000_000, leafHash: 'A'.repeat(44), proof: Array.from({ length: 20 }, () => 'B'.repeat(44)) };
// Distinct random tile bodies, as a real log serves: autocannon is much slower on varying binary
// bodies than on one repeated body, so the ceiling must be measured on the same kind of answers.
const tiles = Array.from({ length: 1024 }, () => randomBytes(8192));
const answer = (size: number) => ({ index: 1, leafHash: 'A'.repeat(44), checkpoint: 'x'.repeat(150), inclusionProof: proof.proof, duplicate: false, size });
if (durableDir) {
  const db = new ClassicLevel<Buffer, Buffer>(durableDir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  let next = 0;
  let writing = false;
  let group: { body: Buffer; done: () => void }[] = [];
  const commit = async (): Promise<void> => {
    writing = true;
    while (group.length > 0) {
      const these = group;
      group = [];
      const b = db.batch();
      for (const { body } of these) {
        const key = Buffer.alloc(8);
        key.writeBigUInt64BE(BigInt(next++));
        b.put(key, body);
      }
      await b.write({ sync: true });
      for (const { done } of these) done();
    }
    writing = false;
  };
  app.post('/add', async (req) => {
    const body = req.body as Buffer;
    await new Promise<void>((done) => {
      group.push({ body, done });
      if (!writing) void commit();
    });
    return answer(body.length);
  });
} else {
  app.post('/add', async (req) => answer((req.body as Buffer).length));
}
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
