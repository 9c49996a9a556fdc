// Goal: `/v1/kv` answers as Consul's `agent/kvs_endpoint.go` does: values, raw reads with their
// safety headers, trees, key listings with a separator, cas, flags, session locks, deletes, index
// headers that are at least 1 and never go backwards, and the plain-text 400/413 errors clients
// parse. Method: one in-process dev agent (no sockets) driven through `agent.fetch`; each test
// uses its own key prefix so tests do not see each other's writes.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningAgent } from "../../src/agent/agent.ts";
import { type Answer, call, put, startTestAgent } from "./_agent.ts";

const encoder = new TextEncoder();

function base64(text: string): string {
  return btoa(text);
}

function assertPlainError(answer: Answer, status: number, startsWith: string): void {
  assert.equal(answer.status, status, answer.text);
  assert.match(answer.headers.get("Content-Type") ?? "", /^text\/plain/);
  assert.ok(answer.text.startsWith(startsWith), `body: ${JSON.stringify(answer.text)}`);
  assert.ok(!answer.text.includes("\n"), "one line");
}

describe("HTTP /v1/kv", () => {
  let agent: RunningAgent;

  before(async () => {
    agent = await startTestAgent();
  });

  after(async () => {
    await agent.stop();
  });

  async function createSession(body: Record<string, unknown> = {}): Promise<string> {
    const answer = await put(agent, "/v1/session/create", body);
    assert.equal(answer.status, 200, answer.text);
    return answer.json.ID;
  }

  it("`GET /v1/kv/:key` on an empty store is a 404 with `X-Consul-Index: 1`, never 0", async () => {
    const answer = await call(agent, "/v1/kv/nothing/yet");
    assert.equal(answer.status, 404);
    assert.equal(answer.index, 1);
    const tree = await call(agent, "/v1/kv/?recurse");
    assert.equal(tree.status, 404);
    assert.equal(tree.index, 1);
    const keys = await call(agent, "/v1/kv/?keys");
    assert.equal(keys.status, 200, "the root lists as [] rather than 404");
    assert.deepEqual(keys.json, []);
  });

  it("`PUT /v1/kv/:key` answers true and `GET` returns the KVPair with Consul's fields", async () => {
    const written = await put(agent, "/v1/kv/basic/greeting", "hello");
    assert.equal(written.status, 200);
    assert.equal(written.text, "true");
    assert.match(written.headers.get("Content-Type") ?? "", /^application\/json/);

    const read = await call(agent, "/v1/kv/basic/greeting");
    assert.equal(read.status, 200);
    assert.match(read.headers.get("Content-Type") ?? "", /^application\/json/);
    assert.equal(read.json.length, 1);
    const pair = read.json[0];
    assert.deepEqual(Object.keys(pair).sort(), [
      "CreateIndex",
      "Flags",
      "Key",
      "LockIndex",
      "ModifyIndex",
      "Value",
    ]);
    assert.equal(pair.Key, "basic/greeting");
    assert.equal(pair.Value, base64("hello"));
    assert.equal(pair.Flags, 0);
    assert.equal(pair.LockIndex, 0);
    assert.equal(pair.CreateIndex, pair.ModifyIndex);
    assert.equal(read.index, pair.ModifyIndex);
    assert.equal(read.headers.get("X-Consul-KnownLeader"), "true");
    assert.equal(read.headers.get("X-Consul-LastContact"), "0");
  });

  it("`PUT /v1/kv/:key?flags` keeps uint64 flags exact, as `consul lock` writes them", async () => {
    // 0x2ddccbc058a50c18, Consul api.Lock's LockFlagValue: above 2^53, so a JS number rounds it.
    const lockFlags = "3304740253564472344";
    assert.equal((await put(agent, `/v1/kv/flags/lock?flags=${lockFlags}`, "x")).text, "true");
    const answer = await call(agent, "/v1/kv/flags/lock");
    assert.match(answer.text, new RegExp(`"Flags":${lockFlags}[,}]`));
    const max = "18446744073709551615";
    assert.equal((await put(agent, `/v1/kv/flags/max?flags=${max}`, "x")).text, "true");
    assert.match((await call(agent, "/v1/kv/flags/max")).text, new RegExp(`"Flags":${max}[,}]`));
    const over = await put(agent, "/v1/kv/flags/over?flags=18446744073709551616", "x");
    assert.equal(over.status, 400);
    const txn = await call(agent, "/v1/txn", {
      method: "PUT",
      body: `[{"KV":{"Verb":"set","Key":"flags/txn","Flags":${lockFlags}}}]`,
    });
    assert.equal(txn.status, 200, txn.text);
    assert.match(
      (await call(agent, "/v1/kv/flags/txn")).text,
      new RegExp(`"Flags":${lockFlags}[,}]`),
    );
  });

  it("`PUT /v1/kv/:key` keeps CreateIndex and moves ModifyIndex on update", async () => {
    await put(agent, "/v1/kv/update/key", "one");
    const first = (await call(agent, "/v1/kv/update/key")).json[0];
    await put(agent, "/v1/kv/update/key", "two");
    const second = (await call(agent, "/v1/kv/update/key")).json[0];
    assert.equal(second.CreateIndex, first.CreateIndex);
    assert.ok(second.ModifyIndex > first.ModifyIndex);
    assert.equal(second.Value, base64("two"));
  });

  it("`PUT /v1/kv/:key` with an empty body stores a null Value", async () => {
    assert.equal((await put(agent, "/v1/kv/empty/key")).text, "true");
    const pair = (await call(agent, "/v1/kv/empty/key")).json[0];
    assert.equal(pair.Value, null);
  });

  it("`GET /v1/kv/:key?raw` returns the bytes as text/plain with nosniff", async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    await put(agent, "/v1/kv/raw/binary", bytes);
    const response = await agent.fetch(new Request("http://cairn/v1/kv/raw/binary?raw"));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("Content-Type"), "text/plain");
    assert.equal(response.headers.get("X-Content-Type-Options"), "nosniff");
    assert.equal(response.headers.get("Content-Security-Policy"), "sandbox");
    assert.ok(Number(response.headers.get("X-Consul-Index")) >= 1);
    assert.deepEqual(new Uint8Array(await response.arrayBuffer()), bytes);
  });

  it("`GET /v1/kv/:key` on a missing key is a 404 with an empty body and X-Consul-Index", async () => {
    for (const path of ["/v1/kv/missing/key", "/v1/kv/missing/key?raw"]) {
      const answer = await call(agent, path);
      assert.equal(answer.status, 404, path);
      assert.equal(answer.text, "", path);
      assert.ok(answer.index !== undefined && answer.index >= 1, path);
    }
  });

  it("`GET /v1/kv/:prefix?recurse` returns every key under the prefix in order", async () => {
    await put(agent, "/v1/kv/tree/b", "2");
    await put(agent, "/v1/kv/tree/a", "1");
    await put(agent, "/v1/kv/tree/sub/c", "3");
    await put(agent, "/v1/kv/treehouse", "not under tree/");
    const answer = await call(agent, "/v1/kv/tree/?recurse");
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json.map((pair: { Key: string }) => pair.Key), [
      "tree/a",
      "tree/b",
      "tree/sub/c",
    ]);
    const highest = Math.max(
      ...answer.json.map((pair: { ModifyIndex: number }) => pair.ModifyIndex),
    );
    assert.equal(answer.index, highest);

    const none = await call(agent, "/v1/kv/no-such-tree/?recurse");
    assert.equal(none.status, 404);
    assert.ok(none.index !== undefined && none.index >= 1);
  });

  it("`GET /v1/kv/:prefix?keys&separator=/` rolls keys up at the separator", async () => {
    for (const key of ["web/bar", "web/foo", "web/subdir/a", "web/subdir/b", "web/x/y/z"]) {
      await put(agent, `/v1/kv/${key}`, "v");
    }
    const all = await call(agent, "/v1/kv/web/?keys");
    assert.equal(all.status, 200);
    assert.deepEqual(all.json, ["web/bar", "web/foo", "web/subdir/a", "web/subdir/b", "web/x/y/z"]);

    const rolled = await call(agent, "/v1/kv/web/?keys&separator=/");
    assert.deepEqual(rolled.json, ["web/bar", "web/foo", "web/subdir/", "web/x/"]);
    assert.ok(rolled.index !== undefined && rolled.index >= 1);

    // Consul also accepts its historical misspelling.
    const misspelt = await call(agent, "/v1/kv/web/?keys&seperator=/");
    assert.deepEqual(misspelt.json, rolled.json);

    const missing = await call(agent, "/v1/kv/nothing-here/?keys");
    assert.equal(missing.status, 404);
  });

  it("`PUT /v1/kv/:key?cas=0` creates only when absent", async () => {
    assert.equal((await put(agent, "/v1/kv/cas/zero?cas=0", "first")).text, "true");
    const second = await put(agent, "/v1/kv/cas/zero?cas=0", "second");
    assert.equal(second.status, 200);
    assert.equal(second.text, "false");
    assert.equal((await call(agent, "/v1/kv/cas/zero")).json[0].Value, base64("first"));
  });

  it("`PUT /v1/kv/:key?cas=N` writes only when ModifyIndex is N", async () => {
    await put(agent, "/v1/kv/cas/index", "v1");
    const index = (await call(agent, "/v1/kv/cas/index")).json[0].ModifyIndex;
    assert.equal((await put(agent, `/v1/kv/cas/index?cas=${index + 1000}`, "stale")).text, "false");
    assert.equal((await put(agent, `/v1/kv/cas/index?cas=${index}`, "v2")).text, "true");
    // The index moved: the same cas now loses.
    assert.equal((await put(agent, `/v1/kv/cas/index?cas=${index}`, "v3")).text, "false");
    assert.equal((await call(agent, "/v1/kv/cas/index")).json[0].Value, base64("v2"));
  });

  it("`PUT /v1/kv/:key?flags=N` stores Flags and a later plain PUT resets them", async () => {
    await put(agent, "/v1/kv/flags/key?flags=42", "v");
    assert.equal((await call(agent, "/v1/kv/flags/key")).json[0].Flags, 42);
    await put(agent, "/v1/kv/flags/key", "v");
    assert.equal((await call(agent, "/v1/kv/flags/key")).json[0].Flags, 0);
  });

  it("`PUT /v1/kv/:key?acquire` locks once; another session gets plain `false`", async () => {
    const holder = await createSession({ Name: "holder" });
    const other = await createSession({ Name: "other" });

    const acquired = await put(agent, `/v1/kv/lock/leader?acquire=${holder}`, "me");
    assert.equal(acquired.status, 200);
    assert.equal(acquired.text, "true");
    let pair = (await call(agent, "/v1/kv/lock/leader")).json[0];
    assert.equal(pair.Session, holder);
    assert.equal(pair.LockIndex, 1);

    // Re-acquiring by the holder updates the value without a new LockIndex.
    assert.equal((await put(agent, `/v1/kv/lock/leader?acquire=${holder}`, "me2")).text, "true");
    pair = (await call(agent, "/v1/kv/lock/leader")).json[0];
    assert.equal(pair.LockIndex, 1);
    assert.equal(pair.Value, base64("me2"));

    const contended = await put(agent, `/v1/kv/lock/leader?acquire=${other}`, "them");
    assert.equal(contended.status, 200);
    assert.equal(contended.text, "false");
    assert.equal(
      (await put(agent, `/v1/kv/lock/leader?release=${other}`)).text,
      "false",
      "only the holder releases",
    );

    const released = await put(agent, `/v1/kv/lock/leader?release=${holder}`, "bye");
    assert.equal(released.text, "true");
    pair = (await call(agent, "/v1/kv/lock/leader")).json[0];
    assert.equal("Session" in pair, false, "Session is omitted once released");
    assert.equal(pair.LockIndex, 1, "release keeps LockIndex");
    assert.equal(pair.Value, base64("bye"));

    // Released by its holder, the key is free at once (lock-delay only follows invalidation).
    assert.equal((await put(agent, `/v1/kv/lock/leader?acquire=${other}`, "them")).text, "true");
    pair = (await call(agent, "/v1/kv/lock/leader")).json[0];
    assert.equal(pair.Session, other);
    assert.equal(pair.LockIndex, 2);
  });

  it("`PUT /v1/kv/:key?acquire` with an unknown session is a 500 `invalid session`", async () => {
    const unknown = "00000000-0000-0000-0000-00000000dead";
    const answer = await put(agent, `/v1/kv/lock/unknown?acquire=${unknown}`, "x");
    assertPlainError(answer, 500, "invalid session");
    assert.equal((await call(agent, "/v1/kv/lock/unknown")).status, 404);
  });

  it("a plain `PUT` ignores the lock but keeps the holder (advisory locking)", async () => {
    const holder = await createSession();
    await put(agent, `/v1/kv/lock/advisory?acquire=${holder}`, "held");
    assert.equal((await put(agent, "/v1/kv/lock/advisory", "overwritten")).text, "true");
    const pair = (await call(agent, "/v1/kv/lock/advisory")).json[0];
    assert.equal(pair.Value, base64("overwritten"));
    assert.equal(pair.Session, holder);
  });

  it("`DELETE /v1/kv/:key` removes one key and answers true even when absent", async () => {
    await put(agent, "/v1/kv/del/one", "x");
    await put(agent, "/v1/kv/del/one-more", "y");
    const answer = await call(agent, "/v1/kv/del/one", { method: "DELETE" });
    assert.equal(answer.status, 200);
    assert.equal(answer.text, "true");
    assert.equal((await call(agent, "/v1/kv/del/one")).status, 404);
    assert.equal((await call(agent, "/v1/kv/del/one-more")).status, 200, "not a prefix delete");
    assert.equal((await call(agent, "/v1/kv/del/one", { method: "DELETE" })).text, "true");
  });

  it("`DELETE /v1/kv/:prefix?recurse` removes the whole tree", async () => {
    for (const key of ["deltree/a", "deltree/b/c", "deltree-sibling"]) {
      await put(agent, `/v1/kv/${key}`, "v");
    }
    const answer = await call(agent, "/v1/kv/deltree/?recurse", { method: "DELETE" });
    assert.equal(answer.text, "true");
    assert.equal((await call(agent, "/v1/kv/deltree/?recurse")).status, 404);
    assert.equal((await call(agent, "/v1/kv/deltree-sibling")).status, 200);
  });

  it("`DELETE /v1/kv/:key?cas=N` deletes only when ModifyIndex is N; cas=0 never does", async () => {
    await put(agent, "/v1/kv/delcas/key", "v");
    const index = (await call(agent, "/v1/kv/delcas/key")).json[0].ModifyIndex;
    const zero = await call(agent, "/v1/kv/delcas/key?cas=0", { method: "DELETE" });
    assert.equal(zero.text, "false");
    const stale = await call(agent, `/v1/kv/delcas/key?cas=${index + 1000}`, { method: "DELETE" });
    assert.equal(stale.text, "false");
    assert.equal((await call(agent, "/v1/kv/delcas/key")).status, 200);
    const right = await call(agent, `/v1/kv/delcas/key?cas=${index}`, { method: "DELETE" });
    assert.equal(right.text, "true");
    assert.equal((await call(agent, "/v1/kv/delcas/key")).status, 404);
  });

  it("X-Consul-Index is at least 1 and a prefix's index never goes backwards", async () => {
    const seen: number[] = [];
    const observe = async () => {
      const answer = await call(agent, "/v1/kv/mono/?recurse");
      assert.ok(answer.index !== undefined && answer.index >= 1);
      seen.push(answer.index);
    };
    await observe();
    await put(agent, "/v1/kv/mono/a", "1");
    await observe();
    await put(agent, "/v1/kv/mono/b", "2");
    await observe();
    // Deleting the key with the highest index must not lower the prefix's index (tombstones).
    await call(agent, "/v1/kv/mono/b", { method: "DELETE" });
    await observe();
    await call(agent, "/v1/kv/mono/a", { method: "DELETE" });
    await observe();
    for (let i = 1; i < seen.length; i += 1) {
      assert.ok(seen[i] >= seen[i - 1], `indexes went backwards: ${seen.join(", ")}`);
    }
    assert.ok(seen.at(-1)! > seen[2], `deletes move the index: ${seen.join(", ")}`);
  });

  it("`?stale&consistent` is a 400", async () => {
    await put(agent, "/v1/kv/consistency/key", "v");
    const answer = await call(agent, "/v1/kv/consistency/key?stale&consistent");
    assertPlainError(answer, 400, "Cannot specify ?stale with ?consistent");
    assert.equal((await call(agent, "/v1/kv/consistency/key?stale")).status, 200);
    assert.equal((await call(agent, "/v1/kv/consistency/key?consistent")).status, 200);
  });

  it("a key-less `GET` or `PUT` is a 400 `Missing key name`", async () => {
    assertPlainError(await call(agent, "/v1/kv/"), 400, "Missing key name");
    assertPlainError(await call(agent, "/v1/kv"), 400, "Missing key name");
    assertPlainError(await put(agent, "/v1/kv/", "v"), 400, "Missing key name");
    assertPlainError(await call(agent, "/v1/kv/", { method: "DELETE" }), 400, "Missing key name");
  });

  it("a value of 512 KiB is stored and one byte more is a 413", async () => {
    const limit = 512 * 1024;
    const fits = await put(agent, "/v1/kv/big/fits", new Uint8Array(limit).fill(7));
    assert.equal(fits.status, 200, fits.text);
    assert.equal(fits.text, "true");
    const answer = await put(agent, "/v1/kv/big/too-big", new Uint8Array(limit + 1).fill(7));
    assertPlainError(answer, 413, "Request body");
    assert.equal((await call(agent, "/v1/kv/big/too-big")).status, 404);
  });

  it("`cas`, `acquire` and `release` together are a 400 `Conflicting flags`", async () => {
    for (const query of ["cas=0&acquire=x", "acquire=x&release=x", "cas=1&release=x"]) {
      assertPlainError(await put(agent, `/v1/kv/conflict?${query}`, "v"), 400, "Conflicting flags");
    }
    const deleted = await call(agent, "/v1/kv/conflict?recurse&cas=1", { method: "DELETE" });
    assertPlainError(deleted, 400, "Conflicting flags");
    assert.equal((await call(agent, "/v1/kv/conflict")).status, 404);
  });

  it("malformed `?flags=abc` and `?cas=x` are a 400 with one line of plain text", async () => {
    assertPlainError(await put(agent, "/v1/kv/malformed?flags=abc", "v"), 400, "Invalid flags");
    assertPlainError(await put(agent, "/v1/kv/malformed?flags=-1", "v"), 400, "Invalid flags");
    assertPlainError(await put(agent, "/v1/kv/malformed?cas=x", "v"), 400, "Invalid cas");
    const deleted = await call(agent, "/v1/kv/malformed?cas=x", { method: "DELETE" });
    assertPlainError(deleted, 400, "Invalid cas");
    assert.equal((await call(agent, "/v1/kv/malformed")).status, 404, "nothing was written");
  });

  it("keys are URL-decoded and may hold any UTF-8", async () => {
    const key = "utf8/caf\u00e9 au lait";
    await put(agent, `/v1/kv/${encodeURIComponent(key)}`, encoder.encode("ok"));
    const answer = await call(agent, `/v1/kv/${encodeURIComponent(key)}`);
    assert.equal(answer.status, 200);
    assert.equal(answer.json[0].Key, key);
  });
});
