// The litewitness add-checkpoint scenario (test/vectors/witness-add-checkpoint.json), replayed in
// order against a fresh witness over HTTP on 127.0.0.1, with the statuses of the current spec.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCheckpoint } from '@candor/core/checkpoint';
import { openNote, parseNote, parseVerifierKey } from '@candor/core/note';
import { loadVectors } from '../helpers/vectors.js';
import { startWitness, type RunningWitness } from './helpers.js';
import { parseAddCheckpoint } from '../../src/witness/witness.js';

interface Step {
  request_body: string;
  expect_status: number;
  expect_status_current_spec?: number;
  expect_body?: string;
  desc: string;
}

const vectors = loadVectors<{ log_vkeys: string[]; steps: Step[] }>('witness-add-checkpoint.json');
const origin = parseCheckpoint(parseNote(vectors.steps[0]!.request_body.split('\n\n').slice(1).join('\n\n')).text).origin;

describe('witness-add-checkpoint.json scenario', () => {
  let w: RunningWitness;
  beforeAll(async () => {
    w = await startWitness({ name: 'example.com/witness', logs: [{ origin, vkeys: vectors.log_vkeys }] });
  });
  afterAll(async () => w.close());

  // The steps depend on each other, so they run as one ordered sequence.
  it('answers each step as the spec says', async () => {
    const witnessKey = parseVerifierKey(w.vkeys[0]!);
    const seen: string[] = [];
    for (const [i, step] of vectors.steps.entries()) {
      const want = step.expect_status_current_spec ?? step.expect_status;
      const res = await w.post(step.request_body);
      seen.push(`${i + 1} ${step.desc}: ${res.status}`);
      expect(res.status, seen.join('\n')).toBe(want);
      if (want === 409) {
        expect(res.body).toBe(step.expect_body);
        expect(res.type).toBe('text/x.tlog.size');
      }
      if (want === 200) {
        const note = step.request_body.slice(step.request_body.indexOf('\n\n') + 2);
        const text = parseNote(note).text;
        expect(res.body).toMatch(/^— example\.com\/witness \S+\n$/);
        const opened = openNote(`${text}\n${res.body}`, [witnessKey]);
        expect(opened.verified).toHaveLength(1);
      }
    }
  });

  it('serves the last cosigned checkpoint (size 5) for monitoring', async () => {
    const { createHash } = await import('node:crypto');
    const hash = createHash('sha256').update(origin).digest('hex');
    const res = await w.get(`/${hash}/checkpoint`);
    expect(res.status).toBe(200);
    const opened = openNote(res.body, [parseVerifierKey(w.vkeys[0]!), ...vectors.log_vkeys.map((k) => parseVerifierKey(k))]);
    expect(opened.verified).toHaveLength(2);
    expect(parseCheckpoint(opened.text).size).toBe(5);
  });
});

describe('the request tlog-witness shows as its example', () => {
  const example = loadVectors<{ spec_example_request: { body: string; parsed: { old_size: number; proof_lines: number; origin: string; size: number } } }>(
    'witness-add-checkpoint.json',
  ).spec_example_request;

  it('parses exactly as the spec lays it out', () => {
    const req = parseAddCheckpoint(example.body);
    expect(req.oldSize).toBe(example.parsed.old_size);
    expect(req.proof).toHaveLength(example.parsed.proof_lines);
    expect(req.checkpoint.origin).toBe(example.parsed.origin);
    expect(req.checkpoint.size).toBe(example.parsed.size);
    expect(parseNote(req.note).signatures).toHaveLength(2);
  });

  it('is answered on its merits over HTTP: a log the witness does not know is 404, not a syntax error', async () => {
    const w = await startWitness({ name: 'example.com/witness', logs: [] });
    try {
      expect((await w.post(example.body)).status).toBe(404);
    } finally {
      await w.close();
    }
  });
});
