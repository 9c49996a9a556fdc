// Goal: measure the write-ahead log's durable append rate: records/s and fsyncs/s for batches
// of 1, 16 and 64 records of 256 bytes (one fdatasync per batch), and what group commit gains
// when 1, 16 or 64 concurrent callers each append one record at a time. Method: a fresh log in
// a temp dir on this runtime's FileStore, each case run for SECONDS (after a short warm-up),
// fsyncs counted by a FileStore decorator; prints one line per case. Not a test: nothing is
// asserted. Run: deno run -A bench/wal_bench.ts [--seconds=3]   (or bun bench/wal_bench.ts)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { FileStore } from "../src/runtime.ts";
import { GroupCommitter } from "../src/storage/group_committer.ts";
import { type LogEntry, WriteAheadLog } from "../src/storage/wal.ts";
import { detectRuntime } from "../runtimes/mod.ts";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "3" } } });
const seconds = Math.min(60, Math.max(0.5, Number(values.seconds)));
const RECORD_BYTES = 256;
const runtime = await detectRuntime();
const root = mkdtempSync(join(tmpdir(), "cairn-wal-bench-"));

/** Counts synced appends: each is one fdatasync. */
function countSyncs(inner: FileStore): { files: FileStore; syncs(): number } {
  let syncs = 0;
  const files: FileStore = {
    dir: inner.dir,
    append: (name, bytes, options) => {
      if (options.sync) syncs += 1;
      return inner.append(name, bytes, options);
    },
    replace: (name, bytes) => inner.replace(name, bytes),
    read: (name) => inner.read(name),
    readRange: inner.readRange?.bind(inner),
    list: () => inner.list(),
    remove: (name) => inner.remove(name),
  };
  return { files, syncs: () => syncs };
}

function entry(index: number): LogEntry {
  const data = new Uint8Array(RECORD_BYTES);
  data[0] = index & 0xff;
  return { index, term: 1, data };
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
}

async function openLog(name: string) {
  const counted = countSyncs(await runtime.files(join(root, name)));
  return { log: await WriteAheadLog.open(counted.files), syncs: counted.syncs };
}

/** One caller appending batches of `batch` records back to back. */
async function batchCase(batch: number): Promise<string> {
  const { log, syncs } = await openLog(`batch-${batch}`);
  const run = async (durationMs: number) => {
    const latencies: number[] = [];
    const endAt = performance.now() + durationMs;
    while (performance.now() < endAt) {
      const first = log.lastIndex + 1;
      const entries = Array.from({ length: batch }, (_, at) => entry(first + at));
      const startedAt = performance.now();
      await log.append(entries);
      latencies.push(performance.now() - startedAt);
    }
    return latencies;
  };
  await run(300);
  const syncsBefore = syncs();
  const recordsBefore = log.lastIndex;
  const startedAt = performance.now();
  const latencies = await run(seconds * 1_000);
  const elapsedS = (performance.now() - startedAt) / 1_000;
  latencies.sort((a, b) => a - b);
  const records = log.lastIndex - recordsBefore;
  return line(
    `batch of ${batch}`,
    records / elapsedS,
    (syncs() - syncsBefore) / elapsedS,
    latencies,
  );
}

/** `callers` concurrent callers, each appending one record at a time through a GroupCommitter. */
async function groupCase(callers: number): Promise<string> {
  const { log, syncs } = await openLog(`group-${callers}`);
  const committer = new GroupCommitter(log);
  let next = 1;
  const run = async (durationMs: number) => {
    const latencies: number[] = [];
    const endAt = performance.now() + durationMs;
    await Promise.all(Array.from({ length: callers }, async () => {
      while (performance.now() < endAt) {
        const startedAt = performance.now();
        await committer.append([entry(next++)]);
        latencies.push(performance.now() - startedAt);
      }
    }));
    return latencies;
  };
  await run(300);
  const syncsBefore = syncs();
  const recordsBefore = log.lastIndex;
  const startedAt = performance.now();
  const latencies = await run(seconds * 1_000);
  const elapsedS = (performance.now() - startedAt) / 1_000;
  latencies.sort((a, b) => a - b);
  const records = log.lastIndex - recordsBefore;
  return line(
    `${callers} callers, group commit`,
    records / elapsedS,
    (syncs() - syncsBefore) / elapsedS,
    latencies,
  );
}

function line(name: string, recordsPerS: number, syncsPerS: number, latencies: number[]): string {
  return `${name.padEnd(26)} ${recordsPerS.toFixed(0).padStart(9)} records/s ` +
    `${syncsPerS.toFixed(0).padStart(7)} fsyncs/s ` +
    `${(recordsPerS * RECORD_BYTES / 1_048_576).toFixed(1).padStart(6)} MiB/s   ` +
    `latency p50 ${percentile(latencies, 0.5).toFixed(3)} ms p99 ${
      percentile(latencies, 0.99).toFixed(3)
    } ms`;
}

try {
  console.log(
    `wal_bench on ${runtime.name}: ${RECORD_BYTES} B records, ${seconds} s per case, dir ${root}`,
  );
  for (const batch of [1, 16, 64]) console.log(await batchCase(batch));
  for (const callers of [1, 16, 64]) console.log(await groupCase(callers));
} finally {
  rmSync(root, { recursive: true, force: true });
}
