// Goal: `RaftServer` is a durable one-server cluster: a proposal resolves once applied; a
// restart on the same directory brings back every acknowledged write without bootstrapping
// again; snapshots are taken and the WAL compacted behind them, and a restart from snapshot +
// WAL tail is whole; leader duties (session TTL expiry releasing locks) still run; consistent
// reads wait for a read-index round. Method: in-process servers on a real temp dir through the
// real runtime, with small thresholds and short durations in the server config.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KvOp } from "../../src/core/state/commands.ts";
import {
  defaultRaftServerConfig,
  RaftServer,
  type RaftServerConfig,
} from "../../src/server/raft_server.ts";
import type { Runtime } from "../../src/runtime.ts";
import { detectRuntime } from "../../runtimes/mod.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "cairn-raft-server-"));
  dirs.push(dir);
  return dir;
}

async function open(
  runtime: Runtime,
  dir: string,
  config: RaftServerConfig = defaultRaftServerConfig(),
  lines: string[] = [],
): Promise<RaftServer> {
  const line = (message: string) => void lines.push(message);
  return await RaftServer.open(runtime, {
    id: "server-1",
    address: "127.0.0.1:8300",
    files: await runtime.files(dir),
    bootstrap: true,
    config,
    log: { info: line, warn: line, error: line },
  });
}

function setOp(key: string, value: string, flags: number | bigint = 0): KvOp {
  return { verb: "set", key, value: new TextEncoder().encode(value), flags, index: 0, session: "" };
}

function valueOf(server: RaftServer, key: string): string | undefined {
  const record = server.store.kvGet(key).value;
  return record === undefined ? undefined : new TextDecoder().decode(record.value);
}

async function eventually(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) assert.fail(`Timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("RaftServer", () => {
  it("`RaftServer.propose()` resolves with the apply result once the entry is applied", async () => {
    const runtime = await detectRuntime();
    const server = await open(runtime, tempDir());
    try {
      assert.equal(server.isLeader, true, "a sole voter elects itself at once");
      const results = await Promise.all(
        Array.from(
          { length: 20 },
          (_, at) => server.propose({ type: "kvSet", op: setOp(`k${at}`, `v${at}`) }),
        ),
      );
      assert.ok(results.every((result) => result.ok && result.value === true));
      assert.equal(valueOf(server, "k7"), "v7");
      assert.ok(server.stats.walBatches < 20 + 2, "concurrent proposals share fsyncs");
      assert.deepEqual(server.peers(), ["127.0.0.1:8300"]);
      assert.equal(server.leaderAddress(), "127.0.0.1:8300");
    } finally {
      await server.stop();
    }
    const stopped = await server.propose({ type: "kvSet", op: setOp("late", "x") });
    assert.deepEqual(stopped, { ok: false, error: "No cluster leader", status: 500 });
  });

  it("`RaftServer.open()` on the same directory brings back every write, without bootstrapping again", async () => {
    const runtime = await detectRuntime();
    const dir = tempDir();
    const first = await open(runtime, dir);
    for (let at = 0; at < 50; at++) {
      const result = await first.propose({ type: "kvSet", op: setOp(`key/${at}`, `value ${at}`) });
      assert.equal(result.ok, true);
    }
    // uint64 KV flags survive the log exactly.
    await first.propose({ type: "kvSet", op: setOp("flags", "f", 18_446_744_073_709_551_615n) });
    const termBefore = first.term;
    await first.stop();

    const lines: string[] = [];
    const second = await open(runtime, dir, defaultRaftServerConfig(), lines);
    try {
      for (let at = 0; at < 50; at++) assert.equal(valueOf(second, `key/${at}`), `value ${at}`);
      assert.equal(second.store.kvGet("flags").value?.flags, 18_446_744_073_709_551_615n);
      assert.ok(!lines.some((line) => line.includes("Bootstrapped")), lines.join("\n"));
      assert.ok(second.term > termBefore, "a restarted server wins a new term");
      assert.deepEqual(second.membership.voters, ["server-1"]);
      const result = await second.propose({ type: "kvSet", op: setOp("after", "restart") });
      assert.equal(result.ok, true);
    } finally {
      await second.stop();
    }
  });

  it("`RaftServer` snapshots, compacts the WAL, and restarts from snapshot plus tail", async () => {
    const runtime = await detectRuntime();
    const dir = tempDir();
    const config = defaultRaftServerConfig();
    config.raft = { ...config.raft, snapshotThresholdEntries: 40, trailingEntries: 10 };
    config.wal = { segmentBytesMax: 2_048 };
    const first = await open(runtime, dir, config);
    for (let at = 0; at < 200; at++) {
      const result = await first.propose({ type: "kvSet", op: setOp(`key/${at}`, `v${at}`) });
      assert.equal(result.ok, true);
    }
    assert.ok(first.stats.snapshots >= 3, `took ${first.stats.snapshots} snapshots`);
    await first.stop();
    const files = await (await runtime.files(dir)).list();
    const snapshots = files.filter((name) => name.startsWith("snapshot-"));
    const segments = files.filter((name) => name.startsWith("wal-"));
    assert.equal(snapshots.length, 2, `two snapshots retained: ${files.join(", ")}`);
    assert.ok(segments[0] !== "wal-00000000000000000001.seg", `compacted: ${segments.join(", ")}`);

    const lines: string[] = [];
    const second = await open(runtime, dir, config, lines);
    try {
      assert.ok(lines.some((line) => line.startsWith("Restored snapshot")), lines.join("\n"));
      for (let at = 0; at < 200; at++) assert.equal(valueOf(second, `key/${at}`), `v${at}`);
    } finally {
      await second.stop();
    }
  });

  it("`RaftServer` expires a session at 2 x TTL on the leader and releases its lock", async () => {
    const runtime = await detectRuntime();
    const server = await open(runtime, tempDir());
    try {
      const node = {
        id: "",
        node: "node-1",
        address: "127.0.0.1",
        datacenter: "dc1",
        taggedAddresses: {},
        meta: {},
      };
      const registered = await server.propose({
        type: "register",
        node,
        skipNodeUpdate: false,
        service: undefined,
        checks: [],
      });
      assert.equal(registered.ok, true);
      const created = await server.propose({
        type: "sessionCreate",
        session: {
          id: "s1",
          name: "s1",
          node: "node-1",
          lockDelayMs: 0,
          behavior: "release",
          ttlMs: 100,
          nodeChecks: [],
          serviceChecks: [],
        },
      });
      assert.equal(created.ok, true, JSON.stringify(created));
      const lock: KvOp = { ...setOp("lock", "held"), verb: "lock", session: "s1" };
      const acquired = await server.propose({ type: "kvSet", op: lock });
      assert.deepEqual(acquired, { ok: true, value: true });
      await eventually(() => server.store.session("s1").value.length === 0, 5_000, "expiry");
      assert.equal(server.store.kvGet("lock").value?.session, "", "the lock is released");
    } finally {
      await server.stop();
    }
  });

  it("`RaftServer.readBarrier()` resolves on the leader after a read-index round", async () => {
    const runtime = await detectRuntime();
    const server = await open(runtime, tempDir());
    try {
      await server.propose({ type: "kvSet", op: setOp("k", "v") });
      assert.equal(await server.readBarrier(), undefined);
      assert.equal(server.leaseValid(), true);
    } finally {
      await server.stop();
    }
  });
});
