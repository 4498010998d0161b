/** The Candor gateway SDK: record audit events, get verified receipts (README.md). */
export { GatewayClient, ulid, type GatewayOptions, type Recorded, type BatchOptions, type RetryOptions } from './client.js';
export { verifyReceipt, CheckpointVerifier, type Receipt, type VerifiedReceipt } from './receipt.js';
export { GrpcTransport, fromServiceError, type TransportOptions } from './transport.js';
export * as build from './events.js';
export { ActorType, CaptureMethod, ColumnOperation, Outcome, ReviewKind, ReviewState, SessionVerb, ValueClass, VoteDecision } from './events.js';
export { commit, verifyOpening, commitmentDigest, statementFingerprint, type Opening } from '@candor/schema/commitment';
export { depositOpenings, type OpeningsTarget, type DepositResult, type Deposit } from './openings.js';
export { rowKey, type RowIdentity } from '@candor/schema/rowkey';
