// Goal: the Serf shell wires the Serf core onto the memberlist transport: memberlist news map to
// Serf's member events as Serf's delegates do; two pools join and list each other alive with
// their tags; a user event reaches both (the sender too); acks carry coordinates that move
// Vivaldi; a graceful leave shows as left (Serf's intent went first); the member snapshot is
// written and a restarted pool rejoins from it by itself; the coordinate sender sends only
// changes. Method: in-process pools on 127.0.0.73-76 with port 0 (a fixed port for the
// restart), fast local SWIM timings, the runtime that runs the test, and MemoryFileStore.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { detectRuntime } from "../../../runtimes/mod.ts";
import type { Runtime } from "../../../src/runtime.ts";
import {
  CoordinateSender,
  type GossipLog,
  memberlistEventOf,
  type PoolUserEvent,
  SerfPool,
  type SerfPoolOptions,
  snapshotFileName,
} from "../../../src/agent/gossip/mod.ts";
import { defaultLocalConfig, type MemberSnapshot } from "../../../src/core/swim/mod.ts";
import { defaultLocalSerfConfig } from "../../../src/core/serf/mod.ts";
import { encodeTags } from "../../../src/core/wire/mod.ts";
import { MemoryFileStore } from "../../../src/storage/memory_files.ts";

const quiet: GossipLog = { debug() {}, info() {}, warn() {} };

async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 8_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!await condition()) {
    if (Date.now() > deadline) assert.fail(`Cannot wait longer for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function statusOf(pool: SerfPool, name: string): string | undefined {
  return pool.members().find((member) => member.name === name)?.status;
}

function snapshotOf(state: MemberSnapshot["state"], meta: Uint8Array): MemberSnapshot {
  return {
    name: "b",
    address: Uint8Array.of(127, 0, 0, 3),
    port: 8301,
    meta,
    versions: Uint8Array.of(1, 5, 2, 2, 5, 5),
    incarnation: 1,
    state,
    stateChangedAtMs: 0,
  };
}

describe("memberlistEventOf()", () => {
  it("memberlistEventOf() maps memberlist news to Serf's NotifyJoin, NotifyUpdate, NotifyLeave", () => {
    const reported = new Map();
    const web = encodeTags(new Map([["role", "web"]]));
    const db = encodeTags(new Map([["role", "db"]]));
    assert.equal(memberlistEventOf(reported, snapshotOf("dead", web)), undefined);
    assert.equal(memberlistEventOf(reported, snapshotOf("alive", web))?.type, "memberJoined");
    assert.equal(memberlistEventOf(reported, snapshotOf("suspect", web)), undefined);
    assert.equal(memberlistEventOf(reported, snapshotOf("alive", web)), undefined);
    assert.equal(memberlistEventOf(reported, snapshotOf("alive", db))?.type, "memberUpdated");
    assert.equal(memberlistEventOf(reported, snapshotOf("left", db))?.type, "memberLeft");
    assert.equal(memberlistEventOf(reported, snapshotOf("dead", db)), undefined);
    assert.equal(memberlistEventOf(reported, snapshotOf("alive", db))?.type, "memberJoined");
  });
});

describe("SerfPool", () => {
  let runtime: Runtime;
  const open: SerfPool[] = [];
  // Sockets are unref'd: hold the event loop while the tests wait on them.
  const hold = setInterval(() => {}, 1_000);

  async function start(
    name: string,
    host: string,
    options: Partial<SerfPoolOptions> = {},
  ): Promise<SerfPool> {
    const pool = await SerfPool.start(runtime, {
      nodeName: name,
      bind: { host, port: 0 },
      advertiseHost: host,
      tags: { role: name },
      swimConfig: defaultLocalConfig(),
      serfConfig: defaultLocalSerfConfig(),
      log: quiet,
      ...options,
    });
    open.push(pool);
    return pool;
  }

  before(async () => {
    runtime = await detectRuntime();
  });

  after(async () => {
    await Promise.all(open.map((pool) => pool.close()));
    clearInterval(hold);
  });

  it("SerfPool.join() lists both alive with tags; events reach both; leave() shows left", async () => {
    const eventsA: PoolUserEvent[] = [];
    const eventsB: PoolUserEvent[] = [];
    const a = await start("a", "127.0.0.73", { userEvent: (event) => eventsA.push(event) });
    const b = await start("b", "127.0.0.74", { userEvent: (event) => eventsB.push(event) });
    const joined = await b.join([a.address]);
    assert.equal(joined.joined, 1);
    await waitUntil("a to list b alive", () => statusOf(a, "b") === "alive");
    assert.equal(statusOf(b, "a"), "alive");
    assert.equal(a.members().find((m) => m.name === "b")?.tags.get("role"), "b");

    const lamportTime = a.userEvent("deploy", new TextEncoder().encode("v1"), false);
    await waitUntil("b to receive deploy", () => eventsB.length === 1);
    assert.deepEqual(eventsA.map((e) => e.name), ["deploy"], "the sender receives it too");
    assert.equal(eventsB[0].lamportTime, lamportTime);
    assert.equal(new TextDecoder().decode(eventsB[0].payload), "v1");

    // Local probes every 200 ms: acks carry the peer's coordinate (Serf's ping delegate).
    await waitUntil("a to hold b's coordinate", () => a.peerCoordinate("b") !== undefined);
    assert.equal(a.coordinate().vec.length, 8);
    assert.ok(a.stats().coordinatesRejected === 0);

    assert.equal(await b.leave(5_000), true, "the leave finished in time");
    await b.close();
    await waitUntil("a to list b left", () => statusOf(a, "b") === "left");
  });

  it("SerfPool keeps a snapshot and a restarted pool rejoins from it", async () => {
    const files = new MemoryFileStore("/serf");
    const peer = await start("peer", "127.0.0.75");
    const first = await start("restarts", "127.0.0.76", { snapshotFiles: files });
    await first.join([peer.address]);
    await waitUntil("peer to list restarts alive", () => statusOf(peer, "restarts") === "alive");
    const port = first.address.port;
    await waitUntil("the snapshot to name peer", async () => {
      const bytes = await files.read(snapshotFileName);
      const text = new TextDecoder().decode(bytes ?? new Uint8Array(0));
      return text.includes(`alive: peer 127.0.0.75:${peer.address.port}\n`);
    });
    // Let peer's gossip drain, so the only way back to peer is the snapshot (push/pull is 15 s).
    await waitUntil(
      "peer's broadcasts to drain",
      () =>
        peer.stats().transport.swim.broadcastsQueued === 0 &&
        first.stats().transport.swim.broadcastsQueued === 0,
    );
    await first.close(); // No leave: a crash, so the snapshot still lists peer.
    const second = await start("restarts", "127.0.0.76", {
      bind: { host: "127.0.0.76", port },
      snapshotFiles: files,
    });
    await waitUntil(
      "the restarted pool to list peer alive",
      () => statusOf(second, "peer") === "alive",
    );
  });

  it("CoordinateSender.sendIfChanged() sends a changed coordinate once", async () => {
    let coordinate = { vec: [0, 0, 0, 0, 0, 0, 0, 0], error: 1.5, adjustment: 0, height: 1e-5 };
    const sent: unknown[] = [];
    const sender = new CoordinateSender(runtime, {
      coordinate: () => coordinate,
      send: (value) => {
        sent.push(value);
        return Promise.resolve(true);
      },
      log: quiet,
    });
    await sender.sendIfChanged();
    await sender.sendIfChanged();
    assert.equal(sent.length, 1, "unchanged: not sent again");
    coordinate = { ...coordinate, error: 1.2 };
    await sender.sendIfChanged();
    assert.equal(sent.length, 2);
    assert.equal(sender.sends, 2);
  });
});
