// The SDK's runnable example plays its whole story against a throwaway log and verifies it.
import { describe, expect, it } from 'vitest';
import { main } from '../../clients/gateway/examples/review-lifecycle.js';

describe('clients/gateway/examples/review-lifecycle.ts', () => {
  it('records a review lifecycle and a column change, and every receipt verifies', async () => {
    const lines: string[] = [];
    const recorded = await main({}, (l) => lines.push(l));
    expect(recorded.map((r) => r.event.type)).toEqual([
      'review.requested',
      'review.vote.cast',
      'review.approved',
      'review.execution.started',
      'session.started',
      'query.executed',
      'data.column.changed',
      'review.execution.completed',
      'session.ended',
      'review.requested',
      'review.vote.cast',
      'review.rejected',
      'review.requested',
    ]);
    expect(recorded.at(-1)!.receipt).toMatchObject({ duplicate: true, index: recorded[0]!.receipt.index });
    expect(lines.filter((l) => / verified/.test(l))).toHaveLength(13);
    expect(lines).toContain('\n13 receipts re-verified offline (checkpoint signature, inclusion, producer signature)');
    expect(lines.at(-1)).toMatch(/^opening of column_change\.new_value matches the logged commitment: DE89/);
  });
});
