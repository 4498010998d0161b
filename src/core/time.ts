/**
 * Times as text: the one RFC 3339 parser behind every time a client gives (GET /v1/search,
 * /v1/tail, /v1/export and export filters), and the formatter the protobuf JSON mapping uses for
 * Timestamps, and a Timestamp as nanoseconds. Portable (no Node built-ins): the offline verifier
 * checks export filters with it, the gateway SDK reads acknowledgements with it.
 */
import { invalid } from './errors.js';

/** A protobuf Timestamp (google.protobuf.Timestamp) as nanoseconds since the epoch. */
export function timestampNs(t: { seconds: bigint; nanos: number }): bigint {
  return t.seconds * 1_000_000_000n + BigInt(t.nanos);
}

// RFC 3339 §5.6 date-time: seconds required, "T"/"Z" in either case (§5.6 note), a fraction of at
// most 9 digits (a Timestamp holds nanoseconds; more would be silently rounded), a zone. Leap
// seconds (":60") are refused: a Timestamp cannot hold them (its range is smeared).
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * An RFC 3339 time as nanoseconds since the epoch, not before it. `name` (the parameter or filter key) is named
 * in the error, which says what is accepted.
 */
export function parseRfc3339(s: string, name: string): bigint {
  const m = RFC3339.exec(s);
  const [y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0] = m === null ? [] : m.slice(1, 7).map(Number);
  const [oh = 0, om = 0] = m?.[9] === undefined ? [] : [Number(m[10]), Number(m[11])];
  if (m === null || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || sec > 59 || oh > 23 || om > 59) {
    throw invalid(`${name} must be an RFC 3339 time with seconds and a zone, at most 9 fractional digits, such as 2026-05-04T14:45:00Z or 2026-05-04T16:45:00.123456789+02:00; got ${JSON.stringify(s)}`);
  }
  const offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  // Date.UTC reads years 0-99 as 1900-1999, so the year is set on its own.
  const t = new Date(Date.UTC(2000, mo - 1, d, h, mi, sec));
  t.setUTCFullYear(y);
  const ns = BigInt(t.getTime() - offsetMinutes * 60_000) * 1_000_000n + BigInt((m[7] ?? '').padEnd(9, '0'));
  // The search index keys times as unsigned nanoseconds; export refuses the same, so that both
  // routes take the same times.
  if (ns < 0n) throw invalid(`${name} must not be before 1970-01-01T00:00:00Z; got ${JSON.stringify(s)}`);
  return ns;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits (as protobuf JSON writes Timestamps). */
export function rfc3339(seconds: bigint, nanos: number): string {
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  if (nanos === 0) return `${base}Z`;
  const n = String(nanos).padStart(9, '0');
  return `${base}.${nanos % 1_000_000 === 0 ? n.slice(0, 3) : nanos % 1000 === 0 ? n.slice(0, 6) : n}Z`;
}

/** Nanoseconds since the epoch (a leaf's receive time) as RFC 3339. */
export function nsTime(ns: bigint): string {
  return rfc3339(ns / 1_000_000_000n, Number(ns % 1_000_000_000n));
}
