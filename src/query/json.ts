/**
 * Protobuf binary to the protobuf JSON mapping, in one pass over the bytes: what
 * JSON.stringify(toJson(schema, fromBinary(schema, bytes))) gives for a canonical encoding, without
 * building the message or the JSON object (export writes every event this way; decoding and
 * re-encoding cost most of an NDJSON line). Compiled once per message type from the schema.
 *
 * Why the output is the same: a canonical encoding (docs/leaf-format.md) has its fields in
 * number order, which is the order toJson writes them in, and omits implicit-presence fields at
 * their zero value, which toJson omits too; explicit-presence fields (messages, `optional`, oneof
 * members) are on the wire exactly when set, and written when set. Enums are written by name,
 * 64-bit integers as strings, bytes as standard base64, Timestamp and Duration in their JSON
 * forms. The test compares it with toJson on every event type. A field type the schema does not
 * use (floats, fixed-width integers, maps, Any) fails at compile time, so a schema change that
 * needs more is noticed.
 *
 * Portable: base64 is injected (Node passes Buffer's; the default is the portable encoder).
 */
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { toBase64 } from '@candor/core/bytes';
import { rfc3339 } from '@candor/core/time';

type Base64 = (b: Uint8Array) => string;

/** Writes the JSON of the message whose bytes are [start, end) of b. */
type MessageWriter = (b: Uint8Array, start: number, end: number) => string;

const decoder = new TextDecoder();
const TWO_64 = 1n << 64n;

/** Reads varints; a position lives in `pos` between calls. */
let pos = 0;

function varint(b: Uint8Array): number {
  let x = 0;
  let mul = 1;
  for (let i = 0; i < 7; i++) {
    const c = b[pos++]!;
    x += (c & 0x7f) * mul;
    if (c < 0x80) return x;
    mul *= 128;
  }
  // Past 49 bits: finish exactly in BigInt and let the caller convert.
  return Number(varintBig(b, BigInt(x), 49n));
}

function varintBig(b: Uint8Array, acc = 0n, shift = 0n): bigint {
  for (;;) {
    const c = b[pos++];
    if (c === undefined) throw new Error('truncated varint');
    acc |= BigInt(c & 0x7f) << shift;
    if (c < 0x80) return acc;
    shift += 7n;
  }
}

/** A scalar's JSON text at pos (wire type already read). */
function scalarWriter(t: ScalarType, base64: Base64): (b: Uint8Array) => string {
  switch (t) {
    case ScalarType.STRING:
      return (b) => {
        const n = varint(b);
        const s = decoder.decode(b.subarray(pos, pos + n));
        pos += n;
        return JSON.stringify(s);
      };
    case ScalarType.BYTES:
      return (b) => {
        const n = varint(b);
        const s = base64(b.subarray(pos, pos + n));
        pos += n;
        return `"${s}"`;
      };
    case ScalarType.BOOL:
      return (b) => (varint(b) !== 0 ? 'true' : 'false');
    case ScalarType.UINT32:
      return (b) => String(varint(b));
    case ScalarType.INT32:
      // Negative int32 values are sign-extended to ten bytes on the wire.
      return (b) => String(Number(BigInt.asIntN(32, varintBig(b))));
    case ScalarType.UINT64:
      return (b) => `"${varintBig(b)}"`;
    case ScalarType.INT64:
      return (b) => {
        const v = varintBig(b);
        return `"${v >= 1n << 63n ? v - TWO_64 : v}"`;
      };
    default:
      throw new Error(`json.ts: scalar type ${ScalarType[t]} is not supported (extend the transcoder)`);
  }
}

/** Timestamp and Duration in their JSON forms (seconds = 1, nanos = 2). */
function wellKnown(typeName: string): MessageWriter | undefined {
  if (typeName !== 'google.protobuf.Timestamp' && typeName !== 'google.protobuf.Duration') return undefined;
  return (b, start, end) => {
    pos = start;
    let seconds = 0n;
    let nanos = 0;
    while (pos < end) {
      const tag = varint(b);
      if (tag === 8) seconds = BigInt.asIntN(64, varintBig(b));
      else if (tag === 16) nanos = Number(BigInt.asIntN(32, varintBig(b)));
      else throw new Error(`${typeName}: unexpected tag ${tag}`);
    }
    if (typeName === 'google.protobuf.Timestamp') return `"${rfc3339(seconds, nanos)}"`;
    let text = seconds.toString();
    if (nanos !== 0) {
      let n = String(Math.abs(nanos)).padStart(9, '0');
      if (n.endsWith('000000')) n = n.slice(0, 3);
      else if (n.endsWith('000')) n = n.slice(0, 6);
      text += `.${n}`;
      if (nanos < 0 && seconds === 0n) text = `-${text}`;
    }
    return `"${text}s"`;
  };
}

interface FieldPlan {
  /** `"jsonName":` */
  key: string;
  list: boolean;
  /** Writes one value at pos (the tag already read); moves pos past it. */
  value: (b: Uint8Array, wireType: number) => string;
}

const compiled = new WeakMap<DescMessage, Map<Base64, MessageWriter>>();

/** The writer of `desc` with this base64 encoder, compiled on first use. */
export function jsonWriter(desc: DescMessage, base64: Base64 = toBase64): MessageWriter {
  let byB64 = compiled.get(desc);
  if (!byB64) compiled.set(desc, (byB64 = new Map()));
  const done = byB64.get(base64);
  if (done) return done;
  const wkt = wellKnown(desc.typeName);
  if (wkt) {
    byB64.set(base64, wkt);
    return wkt;
  }
  const plans = new Map<number, FieldPlan>();
  const writer: MessageWriter = (b, start, end) => {
    pos = start;
    let out = '{';
    let first = true;
    let open: number | undefined; // the list field whose array is open
    while (pos < end) {
      const tag = varint(b);
      const no = Math.floor(tag / 8);
      const plan = plans.get(no);
      if (!plan) throw new Error(`${desc.typeName}: unknown field ${no}`);
      if (open !== undefined && open !== no) {
        out += ']';
        open = undefined;
      }
      if (plan.list && open === no) {
        out += `,${plan.value(b, tag % 8)}`;
        continue;
      }
      out += `${first ? '' : ','}${plan.key}`;
      first = false;
      if (plan.list) {
        out += `[${plan.value(b, tag % 8)}`;
        open = no;
      } else {
        out += plan.value(b, tag % 8);
      }
    }
    return `${open !== undefined ? `${out}]` : out}}`;
  };
  // Registered before its fields compile, so recursive types resolve to it.
  byB64.set(base64, writer);
  for (const f of desc.fields) plans.set(f.number, plan(f, base64));
  return writer;
}

function plan(f: DescField, base64: Base64): FieldPlan {
  const key = `${JSON.stringify(f.jsonName)}:`;
  const kind = f.fieldKind === 'list' ? f.listKind : f.fieldKind;
  const list = f.fieldKind === 'list';
  if (kind === 'message') {
    const m = f.message!;
    return {
      key,
      list,
      value: (b) => {
        const n = varint(b);
        const start = pos;
        const s = jsonWriter(m, base64)(b, start, start + n);
        pos = start + n;
        return s;
      },
    };
  }
  if (kind === 'enum') {
    const e = f.enum!;
    const one = (b: Uint8Array) => {
      const v = Number(BigInt.asIntN(32, varintBig(b)));
      const name = e.value[v]?.jsonName;
      return name === undefined ? String(v) : `"${name}"`;
    };
    return { key, list, value: packedOr(one) };
  }
  if (kind === 'scalar') {
    const one = scalarWriter(f.scalar!, base64);
    return { key, list, value: list && f.scalar !== ScalarType.STRING && f.scalar !== ScalarType.BYTES ? packedOr(one) : one };
  }
  throw new Error(`json.ts: field ${f.name} (${f.fieldKind}) is not supported (extend the transcoder)`);
}

/** A list of varints comes packed (wire type 2: every element in one record) in a canonical encoding. */
function packedOr(one: (b: Uint8Array) => string): (b: Uint8Array, wireType: number) => string {
  return (b, wireType) => {
    if (wireType !== 2) return one(b);
    const n = varint(b);
    const end = pos + n;
    const parts: string[] = [];
    while (pos < end) parts.push(one(b));
    return parts.join(',');
  };
}
