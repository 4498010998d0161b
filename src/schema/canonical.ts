/**
 * The canonical-encoding check, on the wire bytes (docs/leaf-format.md §Canonical event
 * encoding). Equivalent to "decode, re-encode with protobuf-es, compare" (the reference, kept in
 * test/schema/canonical.test.ts and compared with this on random inputs), at a fraction of the
 * cost: it walks the bytes once with the schema and allocates nothing on the happy path.
 *
 * decodeCanonical is the same walk, building the message as it goes: the message protobuf-es
 * fromBinary would give (compared with it on random inputs in the same test), with no second
 * pass over the bytes. On ingestion's hot path this replaced "check, then fromBinary", which
 * walked each event twice and allocated a tuple per tag and a closure per nested message.
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
import { ScalarType, create, type DescField, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { BinaryReader, getTextEncoding } from '@bufbuild/protobuf/wire';
import { CandorError, invalid } from '@candor/core/errors';

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

interface FieldInfo {
  no: number;
  name: string;
  /** The property of the decoded message (protobuf-es's localName). */
  local: string;
  /** For a member of a oneof: the oneof's property. */
  oneofLocal: string | undefined;
  /** Strings: whether invalid UTF-8 is an error (proto3) or U+FFFD (proto2), as protobuf-es decodes. */
  utf8Strict: boolean;
  /** 64-bit integers as strings ([jstype = JS_STRING]). */
  longAsString: boolean;
  /** A closed (proto2) enum's values: protobuf-es keeps others as unknown fields, so they are not canonical. */
  closed: ReadonlySet<number> | undefined;
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
  desc: DescMessage;
  byNumber: Map<number, FieldInfo>;
  /** The same, as an array for the field numbers below 64 (nearly all): no hashing per field. */
  low: (FieldInfo | undefined)[];
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
  const longAsString = (f.fieldKind === 'scalar' || (f.fieldKind === 'list' && f.listKind === 'scalar')) && f.longAsString;
  const enumDesc = f.fieldKind === 'enum' || (f.fieldKind === 'list' && f.listKind === 'enum') ? f.enum : undefined;
  const closed = enumDesc && !enumDesc.open ? new Set(enumDesc.values.map((v) => v.number)) : undefined;
  const base = { no: f.number, name: f.name, local: f.localName, oneofLocal: f.oneof?.localName, utf8Strict: f.utf8Validation, longAsString, closed, oneof, implicit };
  if ((f.fieldKind === 'message' || (f.fieldKind === 'list' && f.listKind === 'message')) && (f.delimitedEncoding || f.message.typeName.startsWith('google.protobuf.') && f.message.typeName.endsWith('Value'))) {
    // Groups, and wrapper types that protobuf-es decodes to primitives: not in candor.v1.
    throw new Error(`bad schema: ${f.name} is a group or a wrapper type; the canonical check does not support them`);
  }
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
  m = { typeName: desc.typeName, desc, byNumber: new Map(), low: new Array<FieldInfo | undefined>(64).fill(undefined), oneofs: 0 };
  cache.set(desc.typeName, m); // before the fields: schemas may recurse
  const oneofs = new Map<string, number>();
  for (const o of desc.oneofs) oneofs.set(o.name, oneofs.size);
  m.oneofs = oneofs.size;
  for (const f of desc.fields) {
    const info = fieldInfo(f, oneofs);
    m.byNumber.set(f.number, info);
    if (f.number < 64) m.low[f.number] = info;
  }
  return m;
}

/** Thrown for bytes protobuf cannot decode at all (as opposed to decodable but not canonical). */
class Malformed extends Error {}

class NonCanonical extends Error {}

class Unknown extends Error {
  constructor(
    readonly no: number,
    readonly at: string,
  ) {
    super('unknown field');
  }
}

/** As protobuf-es's fromBinary (its default recursion limit). */
const MAX_DEPTH = 100;

class Scanner {
  readonly b: Uint8Array;
  readonly root: string;
  pos = 0;
  /** Length of the last varint read. */
  len = 0;
  /** The names of the message fields entered, from the top: a path is built only for an error. */
  readonly names: string[] = [];
  /** For the 64-bit values a double cannot hold exactly: protobuf-es's own reader. */
  #reader: BinaryReader | undefined;

  constructor(b: Uint8Array, root: string) {
    this.b = b;
    this.root = root;
  }

  path(): string {
    let p = this.root;
    for (const n of this.names) p += `.${n}`;
    return p;
  }

  /** protobuf-es's reader at `pos`. */
  reader(pos: number): BinaryReader {
    this.#reader ??= new BinaryReader(this.b);
    this.#reader.pos = pos;
    return this.#reader;
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
  // The low 32 bits, from the first five bytes, as a signed integer.
  const p = end - 10;
  return (b[p]! & 0x7f) | ((b[p + 1]! & 0x7f) << 7) | ((b[p + 2]! & 0x7f) << 14) | ((b[p + 3]! & 0x7f) << 21) | ((b[p + 4]! & 0x0f) << 28);
}

/** Little-endian 32 bits at `p`, signed. */
function int32At(b: Uint8Array, p: number): number {
  return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
}

/**
 * Reads one scalar value (of a packed list too), checking it is canonical; returns the value
 * protobuf-es decodes it to when `decode`, else whether it is the zero value.
 */
function scanScalar(s: Scanner, f: FieldInfo, decode: boolean): unknown {
  const start = s.pos;
  switch (f.scalar) {
    case ScalarType.BOOL: {
      const v = s.varint();
      if (v > 1) throw new NonCanonical('a bool is not 0 or 1');
      return decode ? v === 1 : v === 0;
    }
    case ScalarType.INT32: {
      const v = checkInt32(s, s.varint());
      return decode ? v : v === 0;
    }
    case ScalarType.SINT32:
    case ScalarType.UINT32: {
      const v = s.varint();
      if (v > 0xffff_ffff) throw new NonCanonical('a 32-bit value is out of range');
      if (!decode) return v === 0;
      return f.scalar === ScalarType.UINT32 ? v : (v >>> 1) ^ -(v & 1);
    }
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32: {
      if (s.pos + 4 > s.b.length) throw new Malformed('truncated fixed32');
      s.pos += 4;
      const v = int32At(s.b, start);
      if (!decode) return v === 0;
      return f.scalar === ScalarType.FIXED32 ? v >>> 0 : v;
    }
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64: {
      if (s.pos + 8 > s.b.length) throw new Malformed('truncated fixed64');
      s.pos += 8;
      if (!decode) return (int32At(s.b, start) | int32At(s.b, start + 4)) === 0;
      const r = s.reader(start);
      return long(f, f.scalar === ScalarType.FIXED64 ? r.fixed64() : r.sfixed64());
    }
    default: {
      // int64, uint64, sint64: any 64-bit varint in shortest form.
      const v = s.varint();
      if (!decode) return v === 0 && s.len === 1;
      // Below 2^49 a double holds the varint exactly; a negative int64 or sint64 needs more care.
      if (s.len <= 7 && f.scalar !== ScalarType.SINT64) return long(f, BigInt(v));
      const r = s.reader(start);
      return long(f, f.scalar === ScalarType.INT64 ? r.int64() : f.scalar === ScalarType.UINT64 ? r.uint64() : r.sint64());
    }
  }
}

function long(f: FieldInfo, v: bigint | string): bigint | string {
  return f.longAsString ? String(v) : v;
}

const text = getTextEncoding();

/** A string field's value, as protobuf-es decodes it (invalid UTF-8 is an error for proto3). */
function readString(b: Uint8Array, start: number, stop: number, strict: boolean): string {
  const n = stop - start;
  if (n <= 64) {
    // Short ASCII (most IDs and names): char codes in a fresh array, the cheapest portable way.
    const codes: number[] = new Array(n);
    let i = 0;
    for (; i < n; i++) {
      const c = b[start + i]!;
      if (c > 0x7f) break;
      codes[i] = c;
    }
    if (i === n) return String.fromCharCode.apply(null, codes);
  }
  try {
    return text.decodeUtf8(b.subarray(start, stop), strict);
  } catch (err) {
    throw new Malformed((err as Error).message);
  }
}

type Msg = Record<string, unknown>;

/** Puts a field's value into the message being decoded. */
function put(msg: Msg, f: FieldInfo, value: unknown): void {
  if (f.closed && !f.closed.has(value as number)) throw new NonCanonical(`a value of closed enum field ${f.name} is unknown`);
  if (f.oneofLocal !== undefined) msg[f.oneofLocal] = { case: f.local, value };
  else if (f.repeats || f.packed) (msg[f.local] as unknown[]).push(value);
  else msg[f.local] = value;
}

/** Walks one message's fields from `s.pos` to `end`, checking them, and decoding them into `msg` when given. */
function scanMessage(s: Scanner, m: MessageInfo, end: number, msg: Msg | undefined): void {
  let last = 0;
  let lastRepeats = false;
  let oneofSeen = 0; // bit set; candor.v1 messages have far fewer than 31 oneofs
  while (s.pos < end) {
    const tag = s.varint();
    const no = tag < 0x8000_0000 ? tag >>> 3 : Math.floor(tag / 8);
    const wire = tag & 7;
    if (no === 0) throw new Malformed('field number 0');
    const f = no < 64 ? m.low[no] : m.byNumber.get(no);
    if (!f) throw new Unknown(no, s.path());
    if (no < last || (no === last && !(lastRepeats && f.repeats))) throw new NonCanonical(`${s.path()}: field ${no} is out of order or repeated`);
    if (wire !== f.wire) throw new Malformed(`field ${no} has wire type ${wire}, expected ${f.wire}`);
    if (f.oneof >= 0 && no !== last) {
      if (oneofSeen & (1 << f.oneof)) throw new NonCanonical(`${s.path()}: two members of one oneof are set`);
      oneofSeen |= 1 << f.oneof;
    }
    last = no;
    lastRepeats = f.repeats;
    if (wire === LEN) {
      const n = s.varint();
      const stop = s.pos + n;
      if (stop > end) throw new Malformed('a length runs past the end');
      if (f.message) {
        if (s.names.length >= MAX_DEPTH) throw new Malformed(`maximum recursion depth of ${MAX_DEPTH} reached`);
        const child = msg ? (create(f.message.desc) as Msg) : undefined;
        s.names.push(f.name);
        scanMessage(s, f.message, stop, child);
        s.names.pop();
        if (msg) put(msg, f, child);
      } else if (f.packed) {
        if (n === 0) throw new NonCanonical(`${s.path()}.${f.name}: an empty packed list is written`);
        if (msg) while (s.pos < stop) put(msg, f, scanScalar(s, f, true));
        else while (s.pos < stop) scanScalar(s, f, false);
        if (s.pos !== stop) throw new Malformed('a packed list does not end on an element');
      } else {
        if (n === 0 && f.implicit) throw new NonCanonical(`${s.path()}.${f.name}: an empty implicit field is written`);
        if (msg) put(msg, f, f.scalar === ScalarType.STRING ? readString(s.b, s.pos, stop, f.utf8Strict) : s.b.subarray(s.pos, stop));
        s.pos = stop;
      }
    } else {
      const v = scanScalar(s, f, msg !== undefined);
      const zero = msg ? v === 0 || v === false || v === 0n || v === '0' : v === true;
      if (zero && f.implicit) throw new NonCanonical(`${s.path()}.${f.name}: a zero implicit field is written`);
      if (msg) put(msg, f, v);
    }
    if (s.pos > end) throw new Malformed('a value runs past the end');
  }
}

/** Runs the walk, turning what it finds wrong into the errors documented below. */
function run(desc: DescMessage, bytes: Uint8Array, path: string, msg: Msg | undefined): void {
  const s = new Scanner(bytes, path);
  try {
    scanMessage(s, messageInfo(desc), bytes.length, msg);
  } catch (err) {
    if (err instanceof Unknown) {
      throw invalid(`${err.at} has unknown field ${err.no}: the log's schema does not know it (is the producer's candor.v1 newer?)`);
    }
    if (err instanceof NonCanonical) {
      throw invalid(`${path} is not canonically encoded (${err.message}); encode it with protobuf-es toBinary or see docs/leaf-format.md`);
    }
    if (err instanceof Malformed) throw invalid(`${path} is not a valid ${desc.typeName}: ${err.message}`);
    if (err instanceof CandorError) throw err;
    throw err;
  }
}

/**
 * Checks that `bytes` are the canonical encoding of a message of `desc`; `path` names it in
 * errors. Throws CandorError('invalid_argument'): "<path> has unknown field N", "<path> is not
 * canonically encoded (...)", or "<path> is not a valid <type>: ..." for undecodable bytes.
 */
export function checkCanonical(desc: DescMessage, bytes: Uint8Array, path: string): void {
  run(desc, bytes, path, undefined);
}

/**
 * checkCanonical, decoding as it checks: the message fromBinary(desc, bytes) gives (bytes fields
 * are views of `bytes`, as there), with the same errors as checkCanonical, plus invalid UTF-8
 * in a proto3 string ("<path> is not a valid <type>: ...").
 */
export function decodeCanonical<D extends DescMessage>(desc: D, bytes: Uint8Array, path: string): MessageShape<D> {
  const msg = create(desc) as unknown as Msg;
  run(desc, bytes, path, msg);
  return msg as unknown as MessageShape<D>;
}
