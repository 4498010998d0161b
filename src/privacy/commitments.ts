/**
 * The salted commitments an event holds (docs/leaf-format.md §Commitments): every bytes field
 * named `commitment` or `*_commitment`, and the digest of each entry of the envelope's
 * `commitments` list. An opening opens an event when its commitment digest
 * (src/schema/commitment.ts, which hashes the field name in) is one of these. Portable: the
 * openings store and an auditor checking a disclosure use the same function.
 */
import type { DescMessage } from '@bufbuild/protobuf';
import { ScalarType } from '@bufbuild/protobuf';
import { toBase64 } from '@candor/core/bytes';
import { commitmentDigest, type Opening } from '@candor/schema/commitment';
import { EventSchema, NamedCommitmentSchema, type Event } from '@candor/schema/gen/candor/v1/event_pb';

type Msg = Record<string, unknown>;

function isCommitment(name: string): boolean {
  return name === 'commitment' || name.endsWith('_commitment');
}

function collect(desc: DescMessage, msg: Msg, path: string, out: Map<string, string>): void {
  if (desc.typeName === NamedCommitmentSchema.typeName) {
    const d = msg.digest as Uint8Array;
    if (d.length > 0) out.set(toBase64(d), `${path}(${String(msg.field)})`);
    return;
  }
  for (const f of desc.fields) {
    let value: unknown;
    if (f.oneof) {
      const o = msg[f.oneof.localName] as { case?: string; value?: unknown };
      if (o.case !== f.localName) continue;
      value = o.value;
    } else {
      value = msg[f.localName];
    }
    if (value === undefined) continue;
    const p = path ? `${path}.${f.name}` : f.name;
    if (f.fieldKind === 'scalar' && f.scalar === ScalarType.BYTES && isCommitment(f.name)) {
      const d = value as Uint8Array;
      if (d.length > 0) out.set(toBase64(d), p);
    } else if (f.fieldKind === 'message') {
      collect(f.message, value as Msg, p, out);
    } else if (f.fieldKind === 'list' && f.listKind === 'message') {
      (value as Msg[]).forEach((m, i) => collect(f.message, m, `${p}[${i}]`, out));
    }
  }
}

/** The event's commitments: base64 digest -> where it is (a proto path, for messages). */
export function eventCommitments(event: Event): Map<string, string> {
  const out = new Map<string, string>();
  collect(EventSchema, event as unknown as Msg, '', out);
  return out;
}

/** Where in the event an opening's commitment is, or undefined if it opens none of them. */
export function locateOpening(commitments: ReadonlyMap<string, string>, o: Opening): string | undefined {
  return commitments.get(toBase64(commitmentDigest(o)));
}
