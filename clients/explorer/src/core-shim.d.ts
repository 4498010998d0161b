// src/core/bytes.ts names Node's Buffer in a type (`typeof Buffer`) for its fast path, which a
// browser never takes; this is the one declaration the core needs to type-check without Node's
// types. Remove it once src/core no longer mentions Buffer.
declare var Buffer: { from(b: ArrayBufferLike, offset: number, length: number): { toString(encoding: 'base64'): string } } | undefined;
