// Goal: one small driver for the state store tests, so each test reads as the Consul scenario it
// checks. Method: `Harness` owns a `StateStore`, hands out consecutive log indexes and a virtual
// wall clock (`nowMs`), and builds commands with Consul's defaults; `describeStore` renders every
// table (and the session → key links) as plain data, so two stores can be compared with
// `assert.deepEqual`. Private to this folder (no `_test` suffix: no runner picks it up).
import assert from "node:assert/strict";
import type {
  ApplyResult,
  CheckInput,
  Command,
  KvOp,
  NodeInput,
  ServiceInput,
  SessionInput,
  TxnOp,
} from "../../../src/core/state/commands.ts";
import { decodeSnapshot, encodeSnapshot } from "../../../src/core/state/snapshot.ts";
import { StateStore } from "../../../src/core/state/state_store.ts";
import type { TxnOutcome } from "../../../src/core/state/txn.ts";
import type { HealthStatus, KvRecord, SessionBehavior } from "../../../src/core/state/types.ts";

/** A command without its time: the harness stamps `atMs`. */
export type Proposal = Command extends infer C ? C extends Command ? Omit<C, "atMs"> : never
  : never;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The value of a KV record as text, or undefined when there is no record. */
export function text(record: KvRecord | undefined): string | undefined {
  return record === undefined ? undefined : decoder.decode(record.value);
}

/** A node input with Consul's shape. */
export function nodeInput(name: string, overrides: Partial<NodeInput> = {}): NodeInput {
  return {
    id: `id-${name}`,
    node: name,
    address: "10.0.0.1",
    datacenter: "dc1",
    taggedAddresses: {},
    meta: {},
    ...overrides,
  };
}

/** A service input; `name` defaults to `id`. */
export function serviceInput(id: string, overrides: Partial<ServiceInput> = {}): ServiceInput {
  return {
    id,
    service: id,
    tags: [],
    address: "",
    taggedAddresses: {},
    meta: {},
    port: 8080,
    weights: { passing: 1, warning: 1 },
    enableTagOverride: false,
    kind: "",
    ...overrides,
  };
}

/** A check input; a node check unless `serviceId` is given. */
export function checkInput(
  checkId: string,
  status: HealthStatus,
  overrides: Partial<CheckInput> = {},
): CheckInput {
  return {
    checkId,
    name: checkId,
    status,
    notes: "",
    output: "",
    serviceId: "",
    type: "ttl",
    intervalMs: 0,
    timeoutMs: 0,
    definition: {},
    ...overrides,
  };
}

/** A session input with Consul's defaults, except no node checks (serfHealth is not here). */
export function sessionInput(
  id: string,
  node: string,
  overrides: Partial<SessionInput> = {},
): SessionInput {
  return {
    id,
    name: "",
    node,
    lockDelayMs: 15_000,
    behavior: "release" as SessionBehavior,
    ttlMs: 0,
    nodeChecks: [],
    serviceChecks: [],
    ...overrides,
  };
}

/** A KV operation for `kvSet`, `kvDelete` and transactions. */
export function kvOp(verb: KvOp["verb"], key: string, options: Partial<KvOp> = {}): KvOp {
  return { verb, key, value: new Uint8Array(), flags: 0, index: 0, session: "", ...options };
}

/** A transaction KV operation. */
export function txnKv(verb: KvOp["verb"], key: string, options: Partial<KvOp> = {}): TxnOp {
  return { kind: "kv", kv: kvOp(verb, key, options) };
}

/** The value of a successful apply; fails the test otherwise. */
export function ok(result: ApplyResult): unknown {
  assert.ok(result.ok, `expected success, got ${JSON.stringify(result)}`);
  return result.value;
}

/** A store driven with consecutive indexes and a virtual clock. */
export class Harness {
  readonly store: StateStore;
  nowMs = 1_000_000;

  constructor(store: StateStore = new StateStore()) {
    this.store = store;
  }

  /** Applies `proposal` at the next index, stamped with `nowMs`. */
  run(proposal: Proposal): ApplyResult {
    const command = { ...proposal, atMs: this.nowMs } as Command;
    return this.store.apply(this.store.lastIndex + 1, command);
  }

  /** The index the next `run` will use. */
  get nextIndex(): number {
    return this.store.lastIndex + 1;
  }

  set(key: string, value: string, flags = 0): ApplyResult {
    return this.run({ type: "kvSet", op: kvOp("set", key, { value: bytes(value), flags }) });
  }

  cas(key: string, value: string, index: number): ApplyResult {
    return this.run({ type: "kvSet", op: kvOp("cas", key, { value: bytes(value), index }) });
  }

  lock(key: string, session: string, value = ""): ApplyResult {
    return this.run({ type: "kvSet", op: kvOp("lock", key, { value: bytes(value), session }) });
  }

  unlock(key: string, session: string, value = ""): ApplyResult {
    return this.run({ type: "kvSet", op: kvOp("unlock", key, { value: bytes(value), session }) });
  }

  delete(key: string): ApplyResult {
    return this.run({ type: "kvDelete", op: kvOp("delete", key) });
  }

  deleteCas(key: string, index: number): ApplyResult {
    return this.run({ type: "kvDelete", op: kvOp("delete-cas", key, { index }) });
  }

  deleteTree(prefix: string): ApplyResult {
    return this.run({ type: "kvDelete", op: kvOp("delete-tree", prefix) });
  }

  /** Registers `node`, optionally with a service and checks. */
  register(
    node: string,
    options: { service?: ServiceInput; checks?: CheckInput[]; node?: Partial<NodeInput> } = {},
  ): ApplyResult {
    return this.run({
      type: "register",
      node: nodeInput(node, options.node),
      skipNodeUpdate: false,
      service: options.service,
      checks: options.checks ?? [],
    });
  }

  deregister(node: string, target: { serviceId?: string; checkId?: string } = {}): ApplyResult {
    return this.run({
      type: "deregister",
      node,
      serviceId: target.serviceId ?? "",
      checkId: target.checkId ?? "",
    });
  }

  createSession(id: string, node: string, overrides: Partial<SessionInput> = {}): ApplyResult {
    return this.run({ type: "sessionCreate", session: sessionInput(id, node, overrides) });
  }

  destroySession(id: string): ApplyResult {
    return this.run({ type: "sessionDestroy", id });
  }

  /** Runs a transaction; returns its outcome (the apply itself always succeeds). */
  txn(ops: TxnOp[]): TxnOutcome {
    return ok(this.run({ type: "txn", ops })) as TxnOutcome;
  }

  /** The record of `key`, or undefined. */
  get(key: string): KvRecord | undefined {
    return this.store.kvGet(key).value;
  }
}

/**
 * Every table of `store` as plain, ordered data: the snapshot's tables plus the session → key
 * links that a snapshot does not carry but restore must rebuild. `lastIndex` is left out unless
 * asked for, since a failed command consumes its index by design.
 */
export function describeStore(
  store: StateStore,
  options: { withLastIndex: boolean } = { withLastIndex: false },
): Record<string, unknown> {
  const snapshot = decodeSnapshot(encodeSnapshot(store)) as unknown as Record<string, unknown>;
  const described: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(snapshot)) {
    if (name === "lastIndex" && !options.withLastIndex) continue;
    described[name] = Array.isArray(value) ? sortRows(value) : value;
  }
  const links = [...store.tablesForSnapshot.sessionKeys.entries()]
    .map(([session, keys]) => [session, [...keys].sort()] as [string, string[]])
    .sort((a, b) => compare(a[0], b[0]));
  described.sessionKeys = links;
  return described;
}

function sortRows(rows: unknown[]): unknown[] {
  return [...rows].sort((a, b) => compare(JSON.stringify(a), JSON.stringify(b)));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
