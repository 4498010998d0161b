/**
 * The canonical-encoding check, on the wire bytes (docs/leaf-format.md §Canonical event
 * encoding). Equivalent to "decode, re-encode with protobuf-es, compare" (the reference, kept in
 * test/schema/canonical.test.ts and compared with this on random inputs), at a fraction of the
 * cost: it walks the bytes once with the schema and allocates nothing on the happy path.
 *
 * Canonical, for the proto3 schema of candor.v1 (no maps, no floats, no groups):
 *  - fields in strictly increasing field-number order; a repeated string, bytes or message field
 *    repeats its number on consecutive records; every field number is known;
 *  - varints (tags, lengths, values) in their shortest form; int32 and enum values in int32
 *    range (negative ones sign-extended to 10 bytes, as protobuf writes them); bools 0 or 1;
 *  - implicit-presence fields (proto3 scalars outside a oneof, not `optional`) only when not
 *    zero or empty; repeated scalars packed, and only when not empty;
 *  - at most one member of each oneof.
 * Portable: no Node built-ins.
 */
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { CandorError, invalid } from '@candor/core/errors';

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

interface FieldInfo {
  no: number;
  name: string;
  wire: number;
  /** Packed repeated scalar: LEN of varints or fixed-size values. */
  packed: boolean;
  /** Repeated LEN field (string, bytes, message): may repeat its number. */
  repeats: boolean;
  implicit: boolean;
  scalar: ScalarType | undefined;
  isEnum: boolean;
  message: MessageInfo | undefined;
  /** Index of its oneof within the message, or -1. */
  oneof: number;
}

interface MessageInfo {
  typeName: string;
  byNumber: Map<number, FieldInfo>;
  oneofs: number;
}

const cache = new Map<string, MessageInfo>();

function scalarWire(s: ScalarType): number {
  switch (s) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return LEN;
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
    case ScalarType.DOUBLE:
      return I64;
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
    case ScalarType.FLOAT:
      return I32;
    default:
      return VARINT;
  }
}

function fieldInfo(f: DescField, oneofs: Map<string, number>): FieldInfo {
  const oneof = f.oneof ? oneofs.get(f.oneof.name)! : -1;
  // proto3 "optional" is a synthetic oneof: explicit presence, nothing else.
  const implicit = f.presence === 2; // FeatureSet.FieldPresence.IMPLICIT
  const base = { no: f.number, name: f.name, oneof, implicit };
  switch (f.fieldKind) {
    case 'scalar':
      if (f.scalar === ScalarType.FLOAT || f.scalar === ScalarType.DOUBLE) throw new Error(`bad schema: ${f.name} is a float; the canonical check does not support floats`);
      return { ...base, wire: scalarWire(f.scalar), packed: false, repeats: false, scalar: f.scalar, isEnum: false, message: undefined };
    case 'enum':
      return { ...base, wire: VARINT, packed: false, repeats: false, scalar: ScalarType.INT32, isEnum: true, message: undefined };
    case 'message':
      return { ...base, implicit: false, wire: LEN, packed: false, repeats: false, scalar: undefined, isEnum: false, message: messageInfo(f.message) };
    case 'list': {
      if (f.listKind === 'message') return { ...base, implicit: false, wire: LEN, packed: false, repeats: true, scalar: undefined, isEnum: false, message: messageInfo(f.message) };
      const scalar = f.listKind === 'enum' ? ScalarType.INT32 : f.scalar;
      if (scalar === ScalarType.STRING || scalar === ScalarType.BYTES) return { ...base, implicit: false, wire: LEN, packed: false, repeats: true, scalar, isEnum: false, message: undefined };
      if (scalar === ScalarType.FLOAT || scalar === ScalarType.DOUBLE) throw new Error(`bad schema: ${f.name} is a float; the canonical check does not support floats`);
      return { ...base, implicit: false, wire: LEN, packed: true, repeats: false, scalar, isEnum: f.listKind === 'enum', message: undefined };
    }
    default:
      throw new Error(`bad schema: ${f.name} is a map; the canonical check does not support maps`);
  }
}

function messageInfo(desc: DescMessage): MessageInfo {
  let m = cache.get(desc.typeName);
  if (m) return m;
  m = { typeName: desc.typeName, byNumber: new Map(), oneofs: 0 };
  cache.set(desc.typeName, m); // before the fields: schemas may recurse
  const oneofs = new Map<string, number>();
  for (const o of desc.oneofs) oneofs.set(o.name, oneofs.size);
  m.oneofs = oneofs.size;
  for (const f of desc.fields) m.byNumber.set(f.number, fieldInfo(f, oneofs));
  return m;
}

/** Thrown for bytes protobuf cannot decode at all (as opposed to decodable but not canonical). */
class Malformed extends Error {}

class Scanner {
  readonly b: Uint8Array;
  pos = 0;
  /** Length of the last varint read. */
  len = 0;

  constructor(b: Uint8Array) {
    this.b = b;
  }

  /** Reads a varint as a number (exact below 2^53; larger only matter via `len` and `hi`). */
  varint(): number {
    const b = this.b;
    let v = 0;
    let mul = 1;
    const start = this.pos;
    for (;;) {
      if (this.pos >= b.length) throw new Malformed('truncated varint');
      const byte = b[this.pos++]!;
      if (this.pos - start > 10) throw new Malformed('varint longer than 10 bytes');
      v += (byte & 0x7f) * mul;
      mul *= 128;
      if ((byte & 0x80) === 0) break;
    }
    this.len = this.pos - start;
    if (this.len > 1 && b[this.pos - 1] === 0) throw new NonCanonical('a varint is not in its shortest form');
    // The 10th byte holds bit 63 only; more would be bits a decoder drops.
    if (this.len === 10 && b[this.pos - 1]! > 1) throw new NonCanonical('a varint has more than 64 bits');
    return v;
  }
}

class NonCanonical extends Error {}

/** The varint just read, as an int32 field value: in range, as protobuf writes int32. */
function checkInt32(s: Scanner, v: number): number {
  if (s.len <= 5) {
    if (v > 0x7fff_ffff) throw new NonCanonical('an int32 value is out of range');
    return v;
  }
  if (s.len !== 10) throw new NonCanonical('a negative int32 is not sign-extended to 10 bytes');
  // Bytes 5..9 of a sign-extended negative int32: 0xff 0xff 0xff 0xff 0x01, and bit 31 set.
  const b = s.b;
  const end = s.pos;
  if (b[end - 1] !== 0x01 || b[end - 2] !== 0xff || b[end - 3] !== 0xff || b[end - 4] !== 0xff || b[end - 5] !== 0xff || (b[end - 6]! & 0x78) !== 0x78) {
    throw new NonCanonical('an int32 value is out of range');
  }
  return -1;
}

function scanScalar(s: Scanner, f: FieldInfo): boolean {
  // Returns whether the value is the zero value.
  switch (f.scalar) {
    case ScalarType.BOOL: {
      const v = s.varint();
      if (v > 1) throw new NonCanonical('a bool is not 0 or 1');
      return v === 0;
    }
    case ScalarType.INT32:
      return checkInt32(s, s.varint()) === 0;
    case ScalarType.SINT32:
    case ScalarType.UINT32: {
      const v = s.varint();
      if (v > 0xffff_ffff) throw new NonCanonical('a 32-bit value is out of range');
      return v === 0;
    }
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32: {
      if (s.pos + 4 > s.b.length) throw new Malformed('truncated fixed32');
      const zero = (s.b[s.pos]! | s.b[s.pos + 1]! | s.b[s.pos + 2]! | s.b[s.pos + 3]!) === 0;
      s.pos += 4;
      return zero;
    }
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64: {
      if (s.pos + 8 > s.b.length) throw new Malformed('truncated fixed64');
      let or = 0;
      for (let i = 0; i < 8; i++) or |= s.b[s.pos + i]!;
      s.pos += 8;
      return or === 0;
    }
    default:
      // int64, uint64, sint64: any 64-bit varint in shortest form.
      return s.varint() === 0 && s.len === 1;
  }
}

function scanMessage(s: Scanner, m: MessageInfo, end: number, path: () => string): void {
  let last = 0;
  let lastRepeats = false;
  let oneofSeen = 0; // bit set; candor.v1 messages have far fewer than 31 oneofs
  while (s.pos < end) {
    const tag = s.varint();
    const no = Math.floor(tag / 8);
    const wire = tag % 8;
    if (no === 0) throw new Malformed('field number 0');
    const f = m.byNumber.get(no);
    if (!f) throw new Unknown(no, path);
    if (no < last || (no === last && !(lastRepeats && f.repeats))) throw new NonCanonical(`${path()}: field ${no} is out of order or repeated`);
    if (wire !== f.wire) throw new Malformed(`field ${no} has wire type ${wire}, expected ${f.wire}`);
    if (f.oneof >= 0 && no !== last) {
      if (oneofSeen & (1 << f.oneof)) throw new NonCanonical(`${path()}: two members of one oneof are set`);
      oneofSeen |= 1 << f.oneof;
    }
    last = no;
    lastRepeats = f.repeats;
    if (wire === LEN) {
      const n = s.varint();
      const stop = s.pos + n;
      if (stop > end) throw new Malformed('a length runs past the end');
      if (f.message) {
        scanMessage(s, f.message, stop, () => `${path()}.${f.name}`);
      } else if (f.packed) {
        if (n === 0) throw new NonCanonical(`${path()}.${f.name}: an empty packed list is written`);
        while (s.pos < stop) scanScalar(s, f);
        if (s.pos !== stop) throw new Malformed('a packed list does not end on an element');
      } else {
        if (n === 0 && f.implicit) throw new NonCanonical(`${path()}.${f.name}: an empty implicit field is written`);
        s.pos = stop;
      }
    } else {
      const zero = f.isEnum ? checkInt32(s, s.varint()) === 0 : scanScalar(s, f);
      if (zero && f.implicit) throw new NonCanonical(`${path()}.${f.name}: a zero implicit field is written`);
    }
    if (s.pos > end) throw new Malformed('a value runs past the end');
  }
}

class Unknown extends Error {
  constructor(
    readonly no: number,
    readonly path: () => string,
  ) {
    super('unknown field');
  }
}

/**
 * Checks that `bytes` are the canonical encoding of a message of `desc`; `path` names it in
 * errors. Throws CandorError('invalid_argument'): "<path> has unknown field N", "<path> is not
 * canonically encoded (...)", or "<path> is not a valid <type>: ..." for undecodable bytes.
 */
export function checkCanonical(desc: DescMessage, bytes: Uint8Array, path: string): void {
  const s = new Scanner(bytes);
  try {
    scanMessage(s, messageInfo(desc), bytes.length, () => path);
  } catch (err) {
    if (err instanceof Unknown) {
      throw invalid(`${err.path()} has unknown field ${err.no}: the log's schema does not know it (is the producer's candor.v1 newer?)`);
    }
    if (err instanceof NonCanonical) {
      throw invalid(`${path} is not canonically encoded (${err.message}); encode it with protobuf-es toBinary or see docs/leaf-format.md`);
    }
    if (err instanceof Malformed) throw invalid(`${path} is not a valid ${desc.typeName}: ${err.message}`);
    if (err instanceof CandorError) throw err;
    throw err;
  }
}
