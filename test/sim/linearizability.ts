// Goal: decide whether a history of key-value operations is linearizable (Herlihy and Wing
// 1990). Method: split the history per key (linearizability is local, so each key is checked
// alone), then the Wing-Gong search with Lowe's memoization of (linearized set, state) pairs, as
// in Porcupine: walk call/return events in order, linearize a pending call when the model allows
// it, and backtrack when a return comes before its call was linearized.

/** One completed or possibly-completed operation on one key. */
export interface KvOperation {
  readonly key: string;
  readonly kind: "put" | "delete" | "cas" | "read";
  /** put and cas: the value written. */
  readonly value?: string;
  /** cas: the value expected (undefined means absent). */
  readonly expected?: string;
  /** Global sequence number of the invocation. */
  readonly call: number;
  /** Global sequence number of the response; `Infinity` when the outcome is unknown. */
  readonly ret: number;
  /** read: the value seen (undefined: absent); cas: whether it swapped. Unset when unknown. */
  readonly output?: { readonly value?: string; readonly swapped?: boolean };
  /** For reports. */
  readonly label: string;
}

type State = string | undefined;

function stepModel(state: State, op: KvOperation): { ok: boolean; next: State } {
  switch (op.kind) {
    case "put":
      return { ok: true, next: op.value };
    case "delete":
      return { ok: true, next: undefined };
    case "cas": {
      const swaps = state === op.expected;
      if (op.output !== undefined && op.output.swapped !== swaps) return { ok: false, next: state };
      return { ok: true, next: swaps ? op.value : state };
    }
    case "read":
      return { ok: op.output === undefined || op.output.value === state, next: state };
  }
}

interface Event {
  readonly op: number;
  readonly isCall: boolean;
  readonly at: number;
  prev: Event | undefined;
  next: Event | undefined;
  match: Event | undefined;
}

/** Result of a check: `ok`, or the key whose history failed and its operations. */
export type LinearizabilityResult = { ok: true } | { ok: false; key: string; history: string[] };

/**
 * Checks a multi-key history; returns the first key whose history is not linearizable.
 *
 * @param operations every operation of interest (reads without a response must be left out)
 * @param stateCountMax bound on memoized states per key; exceeding it throws (search too big)
 */
export function checkLinearizable(
  operations: readonly KvOperation[],
  stateCountMax = 2_000_000,
): LinearizabilityResult {
  const byKey = new Map<string, KvOperation[]>();
  for (const op of operations) {
    const list = byKey.get(op.key) ?? [];
    list.push(op);
    byKey.set(op.key, list);
  }
  for (const [key, ops] of [...byKey].sort(([a], [b]) => a.localeCompare(b))) {
    if (!checkKey(ops, stateCountMax)) {
      const history = [...ops].sort((a, b) => a.call - b.call).map((op) => op.label);
      return { ok: false, key, history };
    }
  }
  return { ok: true };
}

function buildEvents(ops: readonly KvOperation[]): Event | undefined {
  const events: Event[] = [];
  ops.forEach((op, i) => {
    const call: Event = {
      op: i,
      isCall: true,
      at: op.call,
      prev: undefined,
      next: undefined,
      match: undefined,
    };
    const ret: Event = {
      op: i,
      isCall: false,
      at: op.ret,
      prev: undefined,
      next: undefined,
      match: undefined,
    };
    call.match = ret;
    events.push(call, ret);
  });
  // Calls before returns at equal times cannot happen (sequence numbers are unique), but
  // unknown returns all sit at Infinity: order them after every call.
  events.sort((a, b) => a.at - b.at || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  const head: Event = {
    op: -1,
    isCall: false,
    at: -Infinity,
    prev: undefined,
    next: undefined,
    match: undefined,
  };
  let last = head;
  for (const event of events) {
    last.next = event;
    event.prev = last;
    last = event;
  }
  return head;
}

function lift(event: Event): void {
  event.prev!.next = event.next;
  if (event.next !== undefined) event.next.prev = event.prev;
  const match = event.match!;
  match.prev!.next = match.next;
  if (match.next !== undefined) match.next.prev = match.prev;
}

function unlift(event: Event): void {
  const match = event.match!;
  match.prev!.next = match;
  if (match.next !== undefined) match.next.prev = match;
  event.prev!.next = event;
  if (event.next !== undefined) event.next.prev = event;
}

function checkKey(ops: readonly KvOperation[], stateCountMax: number): boolean {
  const head = buildEvents(ops)!;
  const linearized = new Uint32Array(Math.ceil(ops.length / 32));
  const cache = new Set<string>();
  const stack: { event: Event; state: State }[] = [];
  let state: State = undefined;
  let entry = head.next;
  while (head.next !== undefined) {
    assertDefined(entry);
    if (entry.isCall) {
      const op = ops[entry.op];
      const result = stepModel(state, op);
      if (result.ok) {
        linearized[entry.op >> 5] |= 1 << (entry.op & 31);
        const key = `${linearized.join(",")}|${result.next ?? "\u0000"}`;
        if (!cache.has(key)) {
          if (cache.size >= stateCountMax) throw new Error("Cannot check history: search too big");
          cache.add(key);
          stack.push({ event: entry, state });
          state = result.next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.op >> 5] &= ~(1 << (entry.op & 31));
      }
      entry = entry.next;
      continue;
    }
    // A return whose call was not linearized yet: undo the last choice.
    const top = stack.pop();
    if (top === undefined) return false;
    state = top.state;
    linearized[top.event.op >> 5] &= ~(1 << (top.event.op & 31));
    unlift(top.event);
    entry = top.event.next;
  }
  return true;
}

function assertDefined<T>(value: T | undefined): asserts value is T {
  if (value === undefined) throw new Error("Cannot walk the history: ran past its end");
}
