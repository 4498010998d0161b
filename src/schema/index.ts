/**
 * @candor/schema: what the server, the gateway SDK and the browser share, so no second copy can
 * drift: the candor.v1 messages (generated from proto/), validation, canonical encoding, the leaf
 * format (docs/leaf-format.md), salted commitments and producer batch signatures. The grpc-js
 * service definition is at `@candor/schema/grpc` (Node only).
 */
export * from './types.js';
export * from './canonical.js';
export * from './validate.js';
export * from './encoding.js';
export * from './leaf.js';
export * from './commitment.js';
export * from './signature.js';
export * from './rowkey.js';
