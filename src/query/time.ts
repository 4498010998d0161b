/** Times as text, as the protobuf JSON mapping writes Timestamps. Portable. */

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
