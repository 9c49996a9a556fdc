/**
 * The replicated state machine: catalog, KV, sessions, indexes and watches.
 *
 * @module
 */

export * from "./types.ts";
export * from "./commands.ts";
export {
  type QueryResult,
  type ServiceHealth,
  type ServiceOnNode,
  StateStore,
} from "./state_store.ts";
export { type TxnError, type TxnOutcome, type TxnResult } from "./txn.ts";
export { type WatchHandle, WatchHub } from "./watches.ts";
export {
  decodeSnapshot,
  encodeSnapshot,
  restoreSnapshot,
  restoreSnapshotAt,
  type StateSnapshot,
} from "./snapshot.ts";
