// Goal: blocking queries (`?index=N&wait=D`) behave as Consul's: a write to the watched key wakes
// the query within a second; a write elsewhere does not, so the query returns at its wait time
// with the same index; a query on a missing key wakes when the key is created; a prefix query
// wakes on a child's write and on its delete (tombstones keep the index moving); catalog and
// health reads wake on registrations and check updates; bad `wait` and `index` are 400s.
// Method: one in-process dev agent driven through `agent.fetch`; a query is started without
// awaiting it, a write follows after a short pause, and the elapsed time is measured with
// generous bounds (wake-ups under 1 s, timeouts no earlier than the wait).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningAgent } from "../../src/agent/agent.ts";
import { type Answer, call, nowMs, put, sleep, startTestAgent } from "./_agent.ts";

/** An answer with the time it took. */
interface Timed {
  answer: Answer;
  elapsedMs: number;
}

describe("HTTP blocking queries", () => {
  let agent: RunningAgent;

  before(async () => {
    agent = await startTestAgent();
  });

  after(async () => {
    await agent.stop();
  });

  /** Starts a GET without waiting for it. */
  function startQuery(path: string): Promise<Timed> {
    const startedMs = nowMs();
    return call(agent, path).then((answer) => ({ answer, elapsedMs: nowMs() - startedMs }));
  }

  /** Asserts `query` is still pending after `ms`. */
  async function assertPending(query: Promise<Timed>, ms: number): Promise<void> {
    const settled = await Promise.race([query.then(() => true), sleep(ms).then(() => false)]);
    assert.equal(settled, false, "the query answered before any change");
  }

  it("`GET /v1/kv/:key?index&wait` wakes within a second of a write to that key", async () => {
    await put(agent, "/v1/kv/wake/key", "v1");
    const index = (await call(agent, "/v1/kv/wake/key")).index!;
    const query = startQuery(`/v1/kv/wake/key?index=${index}&wait=10s`);
    await assertPending(query, 100);
    const writtenMs = nowMs();
    await put(agent, "/v1/kv/wake/key", "v2");
    const { answer } = await query;
    const wokeAfterMs = nowMs() - writtenMs;
    assert.ok(wokeAfterMs < 1_000, `woke ${wokeAfterMs} ms after the write`);
    assert.equal(answer.status, 200);
    assert.ok(answer.index! > index);
    assert.equal(answer.json[0].Value, btoa("v2"));
  });

  it("`GET /v1/kv/:key?index&wait` ignores other keys and returns at `wait` with the same index", async () => {
    await put(agent, "/v1/kv/quiet/key", "v1");
    const index = (await call(agent, "/v1/kv/quiet/key")).index!;
    const query = startQuery(`/v1/kv/quiet/key?index=${index}&wait=400ms`);
    await sleep(50);
    await put(agent, "/v1/kv/quiet/other", "x");
    // A key that merely starts with the watched key's name wakes the watch but must not answer.
    await put(agent, "/v1/kv/quiet/key-sibling", "x");
    const { answer, elapsedMs } = await query;
    assert.equal(answer.status, 200);
    assert.equal(answer.index, index);
    assert.equal(answer.json[0].Value, btoa("v1"));
    // 400 ms plus up to 1/16 of jitter; a little slack for coarse timers.
    assert.ok(elapsedMs >= 380, `returned after ${elapsedMs} ms`);
    assert.ok(elapsedMs < 2_000, `returned after ${elapsedMs} ms`);
  });

  it("a blocking `GET` on a missing key wakes when the key is created", async () => {
    const missing = await call(agent, "/v1/kv/later/key");
    assert.equal(missing.status, 404);
    const query = startQuery(`/v1/kv/later/key?index=${missing.index}&wait=10s`);
    await assertPending(query, 100);
    await put(agent, "/v1/kv/later/key", "here");
    const { answer, elapsedMs } = await query;
    assert.ok(elapsedMs < 2_000);
    assert.equal(answer.status, 200);
    assert.equal(answer.json[0].Value, btoa("here"));
    assert.ok(answer.index! > missing.index!);
  });

  it("a blocking `GET ?recurse` wakes on a child's write and on its delete", async () => {
    await put(agent, "/v1/kv/prefix/a", "1");
    await put(agent, "/v1/kv/prefix/b", "2");
    const first = await call(agent, "/v1/kv/prefix/?recurse");

    const onWrite = startQuery(`/v1/kv/prefix/?recurse&index=${first.index}&wait=10s`);
    await assertPending(onWrite, 100);
    await put(agent, "/v1/kv/prefix/deep/c", "3");
    const written = (await onWrite).answer;
    assert.ok((await onWrite).elapsedMs < 2_000);
    assert.ok(written.index! > first.index!);
    assert.equal(written.json.length, 3);

    const onDelete = startQuery(`/v1/kv/prefix/?recurse&index=${written.index}&wait=10s`);
    await assertPending(onDelete, 100);
    // The deleted key holds the prefix's highest index: only its tombstone moves the index.
    await call(agent, "/v1/kv/prefix/deep/c", { method: "DELETE" });
    const deleted = await onDelete;
    assert.ok(deleted.elapsedMs < 2_000);
    assert.equal(deleted.answer.status, 200);
    assert.ok(deleted.answer.index! > written.index!);
    assert.deepEqual(deleted.answer.json.map((pair: { Key: string }) => pair.Key), [
      "prefix/a",
      "prefix/b",
    ]);
  });

  it("a blocking `GET ?keys` wakes when the last key under the prefix is deleted (404)", async () => {
    await put(agent, "/v1/kv/lastkey/only", "1");
    const first = await call(agent, "/v1/kv/lastkey/?keys");
    const query = startQuery(`/v1/kv/lastkey/?keys&index=${first.index}&wait=10s`);
    await assertPending(query, 100);
    await call(agent, "/v1/kv/lastkey/only", { method: "DELETE" });
    const { answer, elapsedMs } = await query;
    assert.ok(elapsedMs < 2_000);
    assert.equal(answer.status, 404);
    assert.ok(answer.index! > first.index!, "the tombstone keeps the index moving");
  });

  it("`?wait=0s` or a negative wait blocks for the default time, as Consul's blockingQuery", async () => {
    for (const wait of ["0s", "-1s"]) {
      await put(agent, `/v1/kv/zero-wait/${wait}`, "v1");
      const index = (await call(agent, `/v1/kv/zero-wait/${wait}`)).index!;
      const query = startQuery(`/v1/kv/zero-wait/${wait}?index=${index}&wait=${wait}`);
      await assertPending(query, 150);
      await put(agent, `/v1/kv/zero-wait/${wait}`, "v2");
      const { answer } = await query;
      assert.ok(answer.index! > index, `wait=${wait}`);
    }
  });

  it("`?wait=` garbage is a 400 `Invalid wait time` and `?index=` garbage a 400", async () => {
    await put(agent, "/v1/kv/params/key", "v");
    for (const wait of ["soon", "10", "5x", "1.5.s"]) {
      const answer = await call(agent, `/v1/kv/params/key?index=1&wait=${wait}`);
      assert.equal(answer.status, 400, `wait=${wait}`);
      assert.equal(answer.text, "Invalid wait time");
    }
    for (const index of ["abc", "-1", "1.5"]) {
      const answer = await call(agent, `/v1/kv/params/key?index=${index}&wait=1s`);
      assert.equal(answer.status, 400, `index=${index}`);
      assert.match(answer.text, /^Invalid index/);
    }
    const catalog = await call(agent, "/v1/catalog/nodes?index=1&wait=forever");
    assert.equal(catalog.status, 400);
    assert.equal(catalog.text, "Invalid wait time");
  });

  it("`GET /v1/catalog/services?index` wakes on a service registration", async () => {
    const first = await call(agent, "/v1/catalog/services");
    const query = startQuery(`/v1/catalog/services?index=${first.index}&wait=10s`);
    await assertPending(query, 100);
    const registered = await put(agent, "/v1/agent/service/register", { Name: "blocky" });
    assert.equal(registered.status, 200, registered.text);
    const { answer, elapsedMs } = await query;
    assert.ok(elapsedMs < 2_000);
    assert.ok(answer.index! > first.index!);
    assert.deepEqual(answer.json.blocky, []);
  });

  it("`GET /v1/health/service/:name?index` wakes when a TTL check passes", async () => {
    const registered = await put(agent, "/v1/agent/service/register", {
      Name: "ttl-watched",
      Check: { TTL: "30s" },
    });
    assert.equal(registered.status, 200, registered.text);
    const first = await call(agent, "/v1/health/service/ttl-watched?passing");
    assert.deepEqual(first.json, []);
    const query = startQuery(
      `/v1/health/service/ttl-watched?passing&index=${first.index}&wait=10s`,
    );
    await assertPending(query, 100);
    assert.equal((await put(agent, "/v1/agent/check/pass/service:ttl-watched")).status, 200);
    const { answer, elapsedMs } = await query;
    assert.ok(elapsedMs < 2_000);
    assert.ok(answer.index! > first.index!);
    assert.equal(answer.json.length, 1);
    assert.equal(answer.json[0].Service.Service, "ttl-watched");
  });
});

describe("HTTP blocking queries at shutdown", () => {
  it("`RunningAgent.stop()` answers blocked `agent.fetch` queries at once", async () => {
    const agent = await startTestAgent();
    await put(agent, "/v1/kv/stop/key", "v1");
    const index = (await call(agent, "/v1/kv/stop/key")).index!;
    const startedMs = nowMs();
    const query = call(agent, `/v1/kv/stop/key?index=${index}&wait=30s`);
    await sleep(100);
    await agent.stop();
    const answer = await query;
    const elapsedMs = nowMs() - startedMs;
    assert.ok(elapsedMs < 2_000, `answered ${elapsedMs} ms after it started`);
    assert.equal(answer.status, 200);
    assert.equal(answer.index, index);
  });
});
