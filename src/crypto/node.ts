/**
 * The server's hot-path crypto on node:crypto: SHA-256 (about 5x @noble/hashes on 65-byte inputs,
 * `npm run bench -- integration` lists the rates) and Ed25519 (~10x). Same interfaces as the
 * portable versions in src/core, so nothing else changes when code runs in a browser instead.
 */
import { createPrivateKey, createPublicKey, hash, sign, verify, type KeyObject } from 'node:crypto';
import { rfc9162Hasher, type Hasher } from '@candor/core/hash';
import type { Ed25519 } from '@candor/core/note';
import { toHex } from '@candor/core/bytes';

// DER prefixes that wrap a raw 32-byte Ed25519 seed / public key (RFC 8410).
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

// The digest comes back as a binary (latin1) string and is copied into a Buffer from Node's shared pool:
// about 3x the rate of asking hash() for a Buffer, which gets its own backing store each time
// (an allocation, and work for the garbage collector). bench/integration.ts measures both.
const digest = (d: Uint8Array): Uint8Array => Buffer.from(hash('sha256', d, 'binary'), 'binary');
const portableShape = rfc9162Hasher(digest);

/** SHA-256 of any bytes (event hashes: src/schema/encoding.ts Digest). */
export const nodeDigest: (data: Uint8Array) => Uint8Array = digest;
// Leaf hashing reuses one buffer for 0x00 || entry: the hash is computed before it is reused.
const leafScratch = new Uint8Array(1 + 0xffff);

export const nodeHasher: Hasher = {
  empty: portableShape.empty,
  node: portableShape.node,
  leaf(entry) {
    if (entry.length > 0xffff) return portableShape.leaf(entry);
    leafScratch.set(entry, 1);
    return digest(leafScratch.subarray(0, 1 + entry.length));
  },
};

const privateKeys = new Map<string, KeyObject>();
const publicKeys = new Map<string, KeyObject>();

function privateKey(seed: Uint8Array): KeyObject {
  const id = toHex(seed);
  let k = privateKeys.get(id);
  if (!k) {
    k = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    privateKeys.set(id, k);
  }
  return k;
}

function publicKey(pub: Uint8Array): KeyObject {
  const id = toHex(pub);
  let k = publicKeys.get(id);
  if (!k) {
    k = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pub]), format: 'der', type: 'spki' });
    if (publicKeys.size > 1024) publicKeys.clear();
    publicKeys.set(id, k);
  }
  return k;
}

export const nodeEd25519: Ed25519 = {
  sign: (msg, seed) => new Uint8Array(sign(null, msg, privateKey(seed))),
  verify: (sig, msg, pub) => {
    if (pub.length !== 32 || sig.length !== 64) return false;
    try {
      return verify(null, msg, publicKey(pub), sig);
    } catch {
      return false;
    }
  },
  publicKey: (seed) => {
    const der = createPublicKey(privateKey(seed)).export({ format: 'der', type: 'spki' });
    return new Uint8Array(der.subarray(der.length - 32));
  },
};
