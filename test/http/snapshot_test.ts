// Goal: `/v1/snapshot` saves the whole state as a checksummed archive (octet-stream, with
// X-Consul-Index and the leader headers) and restores one through Raft: after save → more
// writes → restore, the later writes are gone, the earlier state is back (also for a snapshot
// larger than one Raft entry, restored in chunks), and blocking queries wake with a larger
// index; garbage, a truncated or a damaged file is a one-line 400 and changes nothing.
// Method: one in-process dev agent (no sockets) driven through `agent.fetch`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningAgent } from "../../src/agent/agent.ts";
import { decodeSnapshot } from "../../src/core/state/snapshot.ts";
import { decodeSnapshotArchive } from "../../src/storage/snapshot_archive.ts";
import { call, makeRequest, put } from "./_agent.ts";
import { startTestAgent } from "./_agent.ts";

async function fetchBytes(
  agent: RunningAgent,
  path: string,
  body?: Uint8Array,
): Promise<{ status: number; headers: Headers; bytes: Uint8Array }> {
  const hold = setInterval(() => {}, 1_000);
  try {
    const request = makeRequest(`http://cairn${path}`, { method: body ? "PUT" : "GET", body });
    const response = await agent.fetch(request);
    return {
      status: response.status,
      headers: response.headers,
      bytes: new Uint8Array(await response.arrayBuffer()),
    };
  } finally {
    clearInterval(hold);
  }
}

describe("HTTP /v1/snapshot", () => {
  let agent: RunningAgent;

  before(async () => {
    agent = await startTestAgent();
  });

  after(async () => {
    await agent.stop();
  });

  it("saves, then restores through Raft: later writes vanish and blocking queries wake", async () => {
    assert.equal((await put(agent, "/v1/kv/snap/a", "one")).status, 200);
    assert.equal((await put(agent, "/v1/kv/snap/b", "two")).status, 200);
    const saved = await fetchBytes(agent, "/v1/snapshot");
    assert.equal(saved.status, 200);
    assert.equal(saved.headers.get("Content-Type"), "application/octet-stream");
    assert.equal(saved.headers.get("X-Consul-KnownLeader"), "true");
    const savedIndex = Number(saved.headers.get("X-Consul-Index"));
    const snapshot = decodeSnapshot(decodeSnapshotArchive(saved.bytes));
    assert.equal(snapshot.lastIndex, savedIndex);
    assert.deepEqual(
      snapshot.kv.map((record) => record.key).filter((key) => key.startsWith("snap/")),
      ["snap/a", "snap/b"],
    );

    assert.equal((await put(agent, "/v1/kv/snap/a", "changed")).status, 200);
    assert.equal((await put(agent, "/v1/kv/snap/later", "x")).status, 200);
    const later = await call(agent, "/v1/kv/snap/later");
    assert.equal(later.status, 200);
    const beforeRestore = (await call(agent, "/v1/kv/snap/?recurse")).index ?? 0;
    // Blocking queries on a key the restore removes and on one it changes back.
    const waitLater = call(agent, `/v1/kv/snap/later?index=${later.index}&wait=5s`);
    const changed = await call(agent, "/v1/kv/snap/a");
    const waitA = call(agent, `/v1/kv/snap/a?index=${changed.index}&wait=5s`);

    const restored = await fetchBytes(agent, "/v1/snapshot", saved.bytes);
    assert.equal(restored.status, 200, new TextDecoder().decode(restored.bytes));
    const restoreIndex = Number(restored.headers.get("X-Consul-Index"));
    assert.ok(restoreIndex > beforeRestore, `${restoreIndex} > ${beforeRestore}`);

    const woken = await waitLater;
    assert.equal(woken.status, 404);
    assert.equal(woken.index, restoreIndex);
    const back = await waitA;
    assert.equal(atob(back.json[0].Value), "one");
    assert.equal(back.index, restoreIndex);
    assert.equal(atob((await call(agent, "/v1/kv/snap/b")).json[0].Value), "two");
    const listing = await call(agent, "/v1/kv/snap/?keys");
    assert.deepEqual(listing.json, ["snap/a", "snap/b"]);
    assert.equal(listing.index, restoreIndex);

    // Writes go on after the restore, above its index.
    assert.equal((await put(agent, "/v1/kv/snap/after", "y")).status, 200);
    assert.ok(((await call(agent, "/v1/kv/snap/after")).index ?? 0) > restoreIndex);
  });

  it("answers ?stale, and refuses ?stale with ?consistent", async () => {
    const stale = await fetchBytes(agent, "/v1/snapshot?stale");
    assert.equal(stale.status, 200);
    assert.ok(Number(stale.headers.get("X-Consul-Index")) >= 1);
    const both = await call(agent, "/v1/snapshot?stale&consistent");
    assert.equal(both.status, 400);
  });

  it("refuses garbage, truncated and damaged files with a one-line 400 and keeps the state", async () => {
    assert.equal((await put(agent, "/v1/kv/keep", "me")).status, 200);
    const good = (await fetchBytes(agent, "/v1/snapshot")).bytes;
    const damaged = good.slice();
    damaged[damaged.length - 1] ^= 0xff;
    const cases: [Uint8Array, RegExp][] = [
      [new TextEncoder().encode("not a snapshot at all, not even close"), /not a cairn snapshot/],
      [good.subarray(0, good.length - 5), /body bytes/],
      [damaged, /checksum/],
      [new Uint8Array(0), /shorter than its header/],
    ];
    for (const [body, reason] of cases) {
      const answer = await call(agent, "/v1/snapshot", { method: "PUT", body });
      assert.equal(answer.status, 400, answer.text);
      assert.match(answer.text, /^Cannot restore the snapshot: /);
      assert.match(answer.text, reason);
      assert.ok(!answer.text.includes("\n"), "one line");
    }
    assert.equal(atob((await call(agent, "/v1/kv/keep")).json[0].Value), "me");
  });

  it("restores a snapshot larger than one Raft entry, in chunks", async () => {
    const value = (fill: string) => fill.repeat(400 * 1024);
    for (const key of ["big/1", "big/2", "big/3"]) {
      assert.equal((await put(agent, `/v1/kv/${key}`, value(key.at(-1)!))).status, 200);
    }
    const saved = await fetchBytes(agent, "/v1/snapshot");
    assert.ok(saved.bytes.byteLength > 1_048_576, `${saved.bytes.byteLength} bytes`);
    assert.equal((await put(agent, "/v1/kv/big/1", "changed")).status, 200);
    assert.equal((await call(agent, "/v1/kv/big/2", { method: "DELETE" })).status, 200);
    assert.equal((await put(agent, "/v1/kv/big/4", "new")).status, 200);
    const answer = await call(agent, "/v1/snapshot", { method: "PUT", body: saved.bytes });
    assert.equal(answer.status, 200, answer.text);
    for (const key of ["big/1", "big/2", "big/3"]) {
      const read = await call(agent, `/v1/kv/${key}`);
      assert.equal(read.status, 200, key);
      assert.equal(atob(read.json[0].Value), value(key.at(-1)!), key);
    }
    assert.equal((await call(agent, "/v1/kv/big/4")).status, 404);
  });
});
