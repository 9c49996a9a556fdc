// Goal: `/v1/session/*` answers as Consul's `agent/session_endpoint.go`: create (on the agent's
// node by default, TTLs validated with Consul's `Invalid Session TTL` 500 that Patroni parses),
// info, list, node, renew (404 when unknown), destroy (releasing held locks), `Behavior: delete`
// (deleting held keys); and a session's TTL expires at twice its value, releasing its locks.
// Method: an in-process dev agent driven through `agent.fetch` for the HTTP side. TTL expiry
// takes 20 s at the minimum TTL, too slow for a test, so it is checked on a `RaftServer` (on
// in-memory files, as `-dev` runs it) with a fake Runtime whose clock and timers the test
// advances by hand.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningAgent } from "../../src/agent/agent.ts";
import type { CheckInput } from "../../src/core/state/commands.ts";
import type { Runtime, TimerHandle } from "../../src/runtime.ts";
import { RaftServer } from "../../src/server/raft_server.ts";
import { MemoryFileStore } from "../../src/storage/memory_files.ts";
import { call, put, startTestAgent } from "./_agent.ts";

const sessionFields = [
  "Behavior",
  "CreateIndex",
  "ID",
  "LockDelay",
  "ModifyIndex",
  "Name",
  "Node",
  "NodeChecks",
  "ServiceChecks",
  "TTL",
];

describe("HTTP /v1/session", () => {
  let agent: RunningAgent;

  before(async () => {
    agent = await startTestAgent();
  });

  after(async () => {
    await agent.stop();
  });

  async function create(body: Record<string, unknown> = {}): Promise<string> {
    const answer = await put(agent, "/v1/session/create", body);
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(Object.keys(answer.json), ["ID"]);
    assert.match(
      answer.json.ID,
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    return answer.json.ID;
  }

  it("`PUT /v1/session/create` defaults to the agent's node, serfHealth and release", async () => {
    const id = await create({ Name: "defaults" });
    const info = await call(agent, `/v1/session/info/${id}`);
    assert.equal(info.status, 200);
    assert.ok(info.index !== undefined && info.index >= 1);
    assert.equal(info.json.length, 1);
    const session = info.json[0];
    for (const field of sessionFields) assert.ok(field in session, `missing ${field}`);
    assert.equal(session.ID, id);
    assert.equal(session.Name, "defaults");
    assert.equal(session.Node, "node-1");
    assert.equal(session.Behavior, "release");
    assert.equal(session.TTL, "");
    assert.equal(session.LockDelay, 15_000_000_000, "15 s in nanoseconds");
    assert.deepEqual(session.NodeChecks, ["serfHealth"]);
    assert.equal(session.CreateIndex, session.ModifyIndex);
  });

  it("`PUT /v1/session/create` takes Patroni's body: lower-case keys, delete, ttl", async () => {
    const id = await create({
      name: "patroni",
      checks: ["serfHealth"],
      lock_delay: 0.001,
      behavior: "delete",
      ttl: "15s",
    });
    const session = (await call(agent, `/v1/session/info/${id}`)).json[0];
    assert.equal(session.Behavior, "delete");
    assert.equal(session.TTL, "15s");
    assert.equal(session.LockDelay, 1_000_000, "0.001 s is 1 ms");
  });

  it("`PUT /v1/session/create` resolves Checks, NodeChecks and ServiceChecks as Consul does", async () => {
    const registered = await put(agent, "/v1/agent/service/register", {
      Name: "sess-svc",
      Check: { TTL: "1m", Status: "passing" },
    });
    assert.equal(registered.status, 200, registered.text);
    const nodeChecksOf = async (body: Record<string, unknown>) => {
      const id = await create(body);
      return (await call(agent, `/v1/session/info/${id}`)).json[0].NodeChecks;
    };
    // ServiceChecks alone keep the default serfHealth (fixupEmptySessionChecks).
    const withService = await create({ ServiceChecks: [{ ID: "service:sess-svc" }] });
    const session = (await call(agent, `/v1/session/info/${withService}`)).json[0];
    assert.deepEqual(session.NodeChecks, ["serfHealth"]);
    assert.deepEqual(session.ServiceChecks, [{ ID: "service:sess-svc", Namespace: "" }]);
    // An explicit empty list means no checks at all (Patroni's default `checks: []`).
    assert.deepEqual(await nodeChecksOf({ Checks: [] }), []);
    assert.deepEqual(await nodeChecksOf({ NodeChecks: [] }), []);
    assert.deepEqual(await nodeChecksOf({ NodeChecks: ["serfHealth"] }), ["serfHealth"]);
  });

  it("`PUT /v1/session/create` with a TTL under 10 s is a 500 `Invalid Session TTL`", async () => {
    for (const ttl of ["5s", "24h1s", "soon"]) {
      const answer = await put(agent, "/v1/session/create", { TTL: ttl });
      assert.equal(answer.status, 500, `TTL ${ttl}`);
      assert.match(answer.headers.get("Content-Type") ?? "", /^text\/plain/);
      assert.ok(answer.text.startsWith("Invalid Session TTL"), answer.text);
    }
    const id = await create({ TTL: "10s" });
    assert.equal((await call(agent, `/v1/session/info/${id}`)).json[0].TTL, "10s");
  });

  it("`PUT /v1/session/create` refuses unknown nodes, behaviors and bad JSON", async () => {
    const node = await put(agent, "/v1/session/create", { Node: "nobody" });
    assert.equal(node.status, 500);
    assert.match(node.text, /node/i);
    const behavior = await put(agent, "/v1/session/create", { Behavior: "explode" });
    assert.equal(behavior.status, 500);
    const delay = await put(agent, "/v1/session/create", { LockDelay: "2m" });
    assert.equal(delay.status, 500);
    const json = await put(agent, "/v1/session/create", "{nope");
    assert.equal(json.status, 400);
  });

  it("`GET /v1/session/list` and `/node/:node` list sessions; `/info` of an unknown one is []", async () => {
    const id = await create({ Name: "listed" });
    const list = await call(agent, "/v1/session/list");
    assert.equal(list.status, 200);
    assert.ok(list.json.some((session: { ID: string }) => session.ID === id));
    const onNode = await call(agent, "/v1/session/node/node-1");
    assert.ok(onNode.json.some((session: { ID: string }) => session.ID === id));
    assert.deepEqual((await call(agent, "/v1/session/node/nobody")).json, []);

    const unknown = await call(agent, "/v1/session/info/00000000-0000-0000-0000-000000000000");
    assert.equal(unknown.status, 200);
    assert.deepEqual(unknown.json, []);
  });

  it("`PUT /v1/session/renew/:id` returns the session, or a 404 when unknown", async () => {
    const id = await create({ TTL: "30s" });
    const renewed = await put(agent, `/v1/session/renew/${id}`);
    assert.equal(renewed.status, 200);
    assert.equal(renewed.json.length, 1);
    assert.equal(renewed.json[0].ID, id);
    assert.equal(renewed.json[0].TTL, "30s");

    const unknown = await put(agent, "/v1/session/renew/00000000-0000-0000-0000-000000000000");
    assert.equal(unknown.status, 404);
    assert.match(unknown.text, /not found/);
  });

  it("`PUT /v1/session/destroy/:id` releases held locks and is idempotent", async () => {
    const id = await create({ LockDelay: "0s" });
    assert.equal((await put(agent, `/v1/kv/session/lock?acquire=${id}`, "held")).text, "true");
    const destroyed = await put(agent, `/v1/session/destroy/${id}`);
    assert.equal(destroyed.status, 200);
    assert.equal(destroyed.text, "true");
    const pair = (await call(agent, "/v1/kv/session/lock")).json[0];
    assert.equal("Session" in pair, false);
    assert.equal(pair.LockIndex, 1);
    assert.deepEqual((await call(agent, `/v1/session/info/${id}`)).json, []);
    assert.equal((await put(agent, `/v1/session/destroy/${id}`)).text, "true");
    // A destroyed session cannot lock; releasing with it is a plain `false` (kvsUnlockTxn).
    const again = await put(agent, `/v1/kv/session/lock?acquire=${id}`, "x");
    assert.equal(again.status, 500);
    assert.match(again.text, /^invalid session/);
    const release = await put(agent, `/v1/kv/session/lock?release=${id}`, "x");
    assert.equal(release.status, 200);
    assert.equal(release.text, "false");
  });

  it("after a destroy, lock-delay keeps others from acquiring the key", async () => {
    const first = await create({ LockDelay: "15s" });
    const second = await create();
    await put(agent, `/v1/kv/session/delayed?acquire=${first}`, "x");
    await put(agent, `/v1/session/destroy/${first}`);
    const blocked = await put(agent, `/v1/kv/session/delayed?acquire=${second}`, "y");
    assert.equal(blocked.status, 200);
    assert.equal(blocked.text, "false");
  });

  it("`Behavior: delete` deletes the held keys when the session is destroyed", async () => {
    const id = await create({ Behavior: "delete" });
    await put(agent, `/v1/kv/session/ephemeral/a?acquire=${id}`, "a");
    await put(agent, `/v1/kv/session/ephemeral/b?acquire=${id}`, "b");
    await put(agent, "/v1/kv/session/ephemeral/unlocked", "c");
    await put(agent, `/v1/session/destroy/${id}`);
    const left = (await call(agent, "/v1/kv/session/ephemeral/?keys")).json;
    assert.deepEqual(left, ["session/ephemeral/unlocked"]);
  });

  it("a node check turning critical invalidates its sessions", async () => {
    assert.equal(
      (await put(agent, "/v1/agent/check/register", {
        Name: "guard",
        TTL: "1m",
        Status: "passing",
      }))
        .status,
      200,
    );
    const id = await create({ NodeChecks: ["serfHealth", "guard"] });
    await put(agent, `/v1/kv/session/guarded?acquire=${id}`, "x");
    assert.equal((await put(agent, "/v1/agent/check/fail/guard")).status, 200);
    assert.deepEqual((await call(agent, `/v1/session/info/${id}`)).json, []);
    assert.equal("Session" in (await call(agent, "/v1/kv/session/guarded")).json[0], false);
    // A session cannot be created on a critical check.
    const refused = await put(agent, "/v1/session/create", { NodeChecks: ["guard"] });
    assert.equal(refused.status, 500);
  });
});

/** Lets the server's ready loop (in-memory files: promises only) finish what a timer started. */
async function settle(): Promise<void> {
  for (let round = 0; round < 3; round++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** A clock and timers that only move when the test says so. */
class ManualTime {
  nowMs = 1_000_000;
  #timers: { atMs: number; fire: () => void; everyMs?: number; cancelled: boolean }[] = [];

  runtime(): Runtime {
    const schedule = (delayMs: number, fire: () => void, everyMs?: number): TimerHandle => {
      const timer = { atMs: this.nowMs + delayMs, fire, everyMs, cancelled: false };
      this.#timers.push(timer);
      return { cancel: () => timer.cancelled = true };
    };
    const partial: Pick<Runtime, "clock" | "timers" | "randomBytes"> = {
      clock: { monotonicMs: () => this.nowMs, wallMs: () => this.nowMs },
      timers: {
        after: (delayMs, fire) => schedule(delayMs, fire),
        every: (intervalMs, fire) => schedule(intervalMs, fire, intervalMs),
      },
      randomBytes: (bytes) => bytes,
    };
    return partial as Runtime;
  }

  /** Moves time forward, firing due timers in deadline order. */
  advance(ms: number): void {
    const endMs = this.nowMs + ms;
    while (true) {
      const due = this.#timers
        .filter((timer) => !timer.cancelled && timer.atMs <= endMs)
        .sort((a, b) => a.atMs - b.atMs)[0];
      if (due === undefined) break;
      this.nowMs = due.atMs;
      if (due.everyMs === undefined) due.cancelled = true;
      else due.atMs += due.everyMs;
      due.fire();
    }
    this.nowMs = endMs;
  }
}

describe("RaftServer session TTLs", () => {
  const serfHealth: CheckInput = {
    checkId: "serfHealth",
    name: "Serf Health Status",
    status: "passing",
    notes: "",
    output: "",
    serviceId: "",
    type: "",
    intervalMs: 0,
    timeoutMs: 0,
    definition: {},
  };

  async function startServer(): Promise<{ time: ManualTime; server: RaftServer }> {
    const time = new ManualTime();
    const server = await RaftServer.open(time.runtime(), {
      id: "node-1",
      address: "127.0.0.1:8300",
      files: new MemoryFileStore("memory:raft"),
      bootstrap: true,
    });
    const registered = await server.propose({
      type: "register",
      node: {
        id: "",
        node: "node-1",
        address: "127.0.0.1",
        datacenter: "dc1",
        taggedAddresses: {},
        meta: {},
      },
      skipNodeUpdate: false,
      service: undefined,
      checks: [serfHealth],
    });
    assert.equal(registered.ok, true);
    return { time, server };
  }

  async function createSession(
    server: RaftServer,
    id: string,
    options: { ttlMs: number; behavior: "release" | "delete" },
  ): Promise<void> {
    const result = await server.propose({
      type: "sessionCreate",
      session: {
        id,
        name: id,
        node: "node-1",
        lockDelayMs: 15_000,
        behavior: options.behavior,
        ttlMs: options.ttlMs,
        nodeChecks: ["serfHealth"],
        serviceChecks: [],
      },
    });
    assert.equal(result.ok, true);
  }

  async function acquire(server: RaftServer, key: string, session: string): Promise<unknown> {
    const result = await server.propose({
      type: "kvSet",
      op: { verb: "lock", key, value: new Uint8Array([1]), flags: 0, index: 0, session },
    });
    assert.equal(result.ok, true);
    return (result as { value: unknown }).value;
  }

  it("`RaftServer` expires a session at 2 x TTL and releases its locks", async () => {
    const { time, server } = await startServer();
    try {
      await createSession(server, "s1", { ttlMs: 10_000, behavior: "release" });
      assert.equal(await acquire(server, "leader", "s1"), true);

      time.advance(19_999);
      assert.equal(server.store.session("s1").value.length, 1, "alive until 2 x TTL");
      assert.equal(server.store.kvGet("leader").value?.session, "s1");

      time.advance(1);
      await settle();
      assert.equal(server.store.session("s1").value.length, 0, "expired at 2 x TTL");
      const pair = server.store.kvGet("leader").value;
      assert.equal(pair?.session, "", "the lock is released");
      assert.equal(pair?.lockIndex, 1);

      // Lock-delay (15 s) follows the invalidation.
      await createSession(server, "s2", { ttlMs: 0, behavior: "release" });
      assert.equal(await acquire(server, "leader", "s2"), false);
      time.advance(15_000);
      assert.equal(await acquire(server, "leader", "s2"), true);
    } finally {
      await server.stop();
    }
  });

  it("`RaftServer.renewSession()` restarts the 2 x TTL countdown", async () => {
    const { time, server } = await startServer();
    try {
      await createSession(server, "s1", { ttlMs: 10_000, behavior: "release" });
      time.advance(15_000);
      assert.equal(server.renewSession("s1"), true);
      time.advance(15_000);
      await settle();
      assert.equal(server.store.session("s1").value.length, 1, "renewed at 15 s: lives to 35 s");
      time.advance(5_000);
      await settle();
      assert.equal(server.store.session("s1").value.length, 0);
      assert.equal(server.renewSession("s1"), false, "an expired session cannot be renewed");
    } finally {
      await server.stop();
    }
  });

  it("`RaftServer` deletes the keys of an expired `delete` session", async () => {
    const { time, server } = await startServer();
    try {
      await createSession(server, "s1", { ttlMs: 10_000, behavior: "delete" });
      assert.equal(await acquire(server, "member/a", "s1"), true);
      time.advance(20_000);
      await settle();
      assert.equal(server.store.kvGet("member/a").value, undefined);
    } finally {
      await server.stop();
    }
  });

  it("`RaftServer` never expires a session without a TTL", async () => {
    const { time, server } = await startServer();
    try {
      await createSession(server, "forever", { ttlMs: 0, behavior: "release" });
      time.advance(86_400_000);
      await settle();
      assert.equal(server.store.session("forever").value.length, 1);
    } finally {
      await server.stop();
    }
  });
});
