// Goal: whatever sequence of append (with overlapping suffixes), truncateAfter, compact, reset
// and reopen a WriteAheadLog sees, it holds exactly what an in-memory model of a Raft log holds;
// and a crash at any file operation, with any torn prefix of the write that crashed, recovers to
// the state before or after that operation, never anything else. Method: fast-check generates
// operations whose numbers are read relative to the log's current bounds; the log runs on real
// files with tiny segments (many rollovers, truncations across segments) and a tiny cache (reads
// from disk), behind a FileStore decorator that crashes at the Nth operation.
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { FileStore } from "../../src/runtime.ts";
import { type HardState, WriteAheadLog, type WriteAheadLogOptions } from "../../src/storage/wal.ts";
import { CountingFileStore, reopenFiles, tempFiles } from "./_support.ts";

const OPTIONS: WriteAheadLogOptions = { segmentBytesMax: 520, cacheBytesMax: 150 };

/** What the log must hold: entries `first ..= last`, the hard state, and the compaction bound. */
interface Model {
  first: number;
  last: number;
  entries: Map<number, { term: number; data: number[] }>;
  hardState: HardState;
  compactedThrough: number;
}

type Operation =
  | { type: "append"; back: number; count: number; term: number; size: number; vote?: string }
  | { type: "truncate"; back: number }
  | { type: "compact"; back: number }
  | { type: "reset"; ahead: number }
  | { type: "reopen" };

type Step = { operation: Operation; crash?: { after: number; tornBytes: number } };

const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant("append" as const),
      back: fc.nat(6),
      count: fc.nat(6),
      term: fc.nat(9),
      size: fc.nat(60),
      vote: fc.option(fc.constantFrom("a", "b", "ß"), { nil: undefined }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("truncate" as const), back: fc.nat(12) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("compact" as const), back: fc.nat(12) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant("reset" as const), ahead: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant("reopen" as const) }) },
);

const stepArbitrary: fc.Arbitrary<Step> = fc.record(
  {
    operation: operationArbitrary,
    crash: fc.record({ after: fc.nat(3), tornBytes: fc.nat(120) }),
  },
  { requiredKeys: ["operation"] },
);

function dataOf(index: number, term: number, size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, at) => (index * 7 + term * 13 + at) & 0xff);
}

function copyModel(model: Model): Model {
  return { ...model, entries: new Map(model.entries), hardState: { ...model.hardState } };
}

/** Applies `operation` to the log and the model alike. */
async function apply(
  log: WriteAheadLog,
  model: Model,
  operation: Operation,
  truncatedOnly: Model,
): Promise<void> {
  if (operation.type === "append") {
    const first = Math.max(log.firstIndex, log.lastIndex + 1 - operation.back);
    for (let index = first; index <= truncatedOnly.last; index++) {
      truncatedOnly.entries.delete(index);
    }
    if (operation.count > 0) truncatedOnly.last = Math.min(truncatedOnly.last, first - 1);
    const entries = Array.from({ length: operation.count }, (_, at) => ({
      index: first + at,
      term: operation.term,
      data: dataOf(first + at, operation.term, operation.size),
    }));
    const hardState = operation.vote === undefined
      ? undefined
      : { term: operation.term, vote: operation.vote, commit: first };
    if (entries.length === 0 && hardState === undefined) return;
    const pending = log.append(entries, hardState);
    if (entries.length > 0) {
      for (let index = first; index <= model.last; index++) model.entries.delete(index);
      for (const entry of entries) {
        model.entries.set(entry.index, { term: entry.term, data: Array.from(entry.data) });
      }
      model.last = first + entries.length - 1;
    }
    if (hardState !== undefined) model.hardState = hardState;
    await pending;
  } else if (operation.type === "truncate") {
    const index = Math.max(log.firstIndex - 1, log.lastIndex - operation.back);
    const pending = log.truncateAfter(index);
    for (let at = index + 1; at <= model.last; at++) model.entries.delete(at);
    model.last = Math.min(model.last, index);
    await pending;
  } else if (operation.type === "compact") {
    const index = Math.max(log.firstIndex - 1, log.lastIndex - operation.back);
    model.compactedThrough = Math.max(model.compactedThrough, index);
    await log.compact(index);
  } else if (operation.type === "reset") {
    const index = log.lastIndex + operation.ahead;
    const pending = log.reset(index);
    model.entries.clear();
    model.first = index + 1;
    model.last = index;
    model.compactedThrough = index;
    await pending;
  }
}

/** Why the log does not hold what the model does, or `undefined` when it does. */
async function mismatch(log: WriteAheadLog, model: Model): Promise<string | undefined> {
  if (log.lastIndex !== model.last) return `lastIndex ${log.lastIndex}, model ${model.last}`;
  const firstMax = Math.max(model.first, Math.min(model.compactedThrough, model.last) + 1);
  if (log.firstIndex < model.first || log.firstIndex > firstMax) {
    return `firstIndex ${log.firstIndex}, model ${model.first}..${firstMax}`;
  }
  const hardState = log.hardState;
  const expected = model.hardState;
  if (
    hardState.term !== expected.term || hardState.vote !== expected.vote ||
    hardState.commit !== expected.commit
  ) {
    return `hard state ${JSON.stringify(hardState)}, model ${JSON.stringify(model.hardState)}`;
  }
  const entries = await log.entries(log.firstIndex, log.lastIndex + 1);
  for (const entry of entries) {
    const expected = model.entries.get(entry.index);
    if (expected === undefined || expected.term !== entry.term) {
      return `entry ${entry.index} term ${entry.term}, model ${expected?.term}`;
    }
    if (JSON.stringify(Array.from(entry.data)) !== JSON.stringify(expected.data)) {
      return `entry ${entry.index} data differs`;
    }
    if (log.term(entry.index) !== entry.term) return `term(${entry.index}) differs`;
  }
  return undefined;
}

let dir: string;
let cleanupDir: () => void;

beforeEach(async () => {
  ({ dir, cleanup: cleanupDir } = await tempFiles("cairn-wal-property-"));
});
afterEach(() => cleanupDir());

async function runSteps(steps: Step[], runDir: string): Promise<void> {
  let counting = new CountingFileStore(await reopenFiles(runDir));
  let log = await WriteAheadLog.open(counting, OPTIONS);
  let model: Model = {
    first: 1,
    last: 0,
    entries: new Map(),
    hardState: { term: 0, vote: "", commit: 0 },
    compactedThrough: 0,
  };
  for (const [at, step] of steps.entries()) {
    const context = `step ${at}: ${JSON.stringify(step)}`;
    if (step.operation.type === "reopen") {
      counting = new CountingFileStore(await reopenFiles(runDir));
      log = await WriteAheadLog.open(counting, OPTIONS);
      assert.equal(await mismatch(log, model), undefined, context);
      continue;
    }
    const before = copyModel(model);
    // An append whose first index lies in an earlier segment writes the truncation first, with
    // its own fsync: a crash in between leaves the old log cut before the new entries.
    const truncatedOnly = copyModel(model);
    if (step.crash !== undefined) {
      counting.crashAfter = step.crash.after;
      counting.tornBytes = step.crash.tornBytes;
    }
    let crashed = false;
    try {
      await apply(log, model, step.operation, truncatedOnly);
    } catch (error) {
      if (!/crash while/.test(String(error))) throw error;
      crashed = true;
    }
    counting.crashAfter = undefined;
    if (!crashed) {
      assert.equal(await mismatch(log, model), undefined, context);
      continue;
    }
    // A crash: a restarted server sees the state before the operation or after it.
    counting = new CountingFileStore(await reopenFiles(runDir));
    log = await WriteAheadLog.open(counting, OPTIONS);
    const asAfter = await mismatch(log, model);
    if (asAfter !== undefined) {
      const asBefore = await mismatch(log, before);
      const asTruncated = await mismatch(log, truncatedOnly);
      assert.ok(
        asBefore === undefined || asTruncated === undefined,
        `${context}: neither after (${asAfter}) nor before (${asBefore}) nor truncated only`,
      );
      model = asBefore === undefined ? before : truncatedOnly;
      // A compaction the crash interrupted may still have removed some segments.
      model.compactedThrough = Math.max(model.compactedThrough, log.firstIndex - 1);
    }
  }
}

let runs = 0;

describe("WriteAheadLog property", () => {
  it("WriteAheadLog matches an in-memory model through operations, reopens, crashes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArbitrary, { minLength: 1, maxLength: 40, size: "max" }),
        async (steps) => {
          runs += 1;
          const runDir = `${dir}/run-${runs}`;
          await runSteps(steps, runDir);
        },
      ),
      { numRuns: 80 },
    );
  });
});

export type { FileStore };
