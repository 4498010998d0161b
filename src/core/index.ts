/**
 * @candor/core: the portable verification core (no I/O, Node and browsers). RFC 9162 §2.1 Merkle
 * hashing and proofs, C2SP tlog-tiles coordinates, signed notes, checkpoints, cosignatures and
 * tlog-proof bundles. Each module is also importable alone, e.g. `@candor/core/merkle`.
 */
export * from './errors.js';
export * from './bytes.js';
export * from './hash.js';
export * from './merkle.js';
export * from './tile.js';
export * from './note.js';
export * from './checkpoint.js';
export * from './tlog-proof.js';
