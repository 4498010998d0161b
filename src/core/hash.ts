/**
 * RFC 9162 §2.1.1 hashing: leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right),
 * empty tree = SHA-256(""). The Merkle code takes a Hasher so that clients and browsers use this
 * portable (@noble/hashes) one and the server plugs in a faster node:crypto one (src/crypto/).
 */
import { sha256 } from '@noble/hashes/sha2.js';

export const HASH_SIZE = 32;

export interface Hasher {
  /** SHA-256 of the empty string: the root of the empty tree. */
  readonly empty: Uint8Array;
  leaf(entry: Uint8Array): Uint8Array;
  node(left: Uint8Array, right: Uint8Array): Uint8Array;
}

/** Builds an RFC 9162 hasher from a SHA-256 function. */
export function rfc9162Hasher(digest: (data: Uint8Array) => Uint8Array): Hasher {
  const scratch = new Uint8Array(1 + 2 * HASH_SIZE);
  scratch[0] = 0x01;
  return {
    empty: digest(new Uint8Array(0)),
    leaf(entry) {
      const buf = new Uint8Array(1 + entry.length);
      buf.set(entry, 1);
      return digest(buf);
    },
    node(left, right) {
      if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
        const buf = new Uint8Array(1 + left.length + right.length);
        buf[0] = 0x01;
        buf.set(left, 1);
        buf.set(right, 1 + left.length);
        return digest(buf);
      }
      scratch.set(left, 1);
      scratch.set(right, 1 + HASH_SIZE);
      return digest(scratch);
    },
  };
}

/** The portable hasher, safe in browsers. */
export const portableHasher: Hasher = rfc9162Hasher((d) => sha256(d));
