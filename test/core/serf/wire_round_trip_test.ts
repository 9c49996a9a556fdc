// Goal: everything the Serf core puts on the wire is valid Serf 0.9.4 bytes: it decodes with
// the wire codecs, re-encodes to the same bytes, and a second core accepts it. Tags in node
// meta use Serf's `0xff` + msgpack form. Method: drive a core through intents, events,
// queries, responses, relays and push/pull; collect every payload it emits; decode each with
// `decodeSerfMessage`, encode it back with `encodeSerfMessage`, and compare bytes.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeSerfMessage,
  decodeTags,
  encodeSerfMessage,
  QueryFlag,
} from "../../../src/core/wire/mod.ts";
import { bytes, drain, makeSerf, nodeOf } from "./_harness.ts";

test("Serf emits payloads that round-trip through the wire codecs byte for byte", () => {
  const serf = makeSerf("a", 2, { tags: { role: "web" } });
  for (let i = 3; i <= 5; i += 1) {
    serf.handle({ type: "memberJoined", node: nodeOf(`m${i}`, i) }, 1);
  }
  serf.handle({ type: "joinFinished", contacted: 3 }, 2);
  serf.userEvent("deploy", bytes("v1"), true, 3);
  serf.query(
    "uptime",
    bytes("?"),
    { requestAck: true, relayFactor: 2, filterTags: { role: "w" } },
    4,
  );
  serf.forceLeave("m5", 5);
  const payloads: Uint8Array[] = [];
  for (const output of drain(serf)) {
    if (output.type === "broadcast" || output.type === "sendUserMessage") {
      payloads.push(output.payload);
    }
  }
  payloads.push(serf.localState(false));
  const types = new Set<string>();
  for (const payload of payloads) {
    const message = decodeSerfMessage(payload);
    types.add(message.type);
    assert.deepEqual(encodeSerfMessage(message), payload, message.type);
  }
  assert.deepEqual([...types].sort(), [
    "join",
    "leave",
    "pushPull",
    "query",
    "queryResponse",
    "relay",
    "userEvent",
  ]);
});

test("Serf's query carries Go's fields: nanosecond timeout, id below 2^31, our address", () => {
  const serf = makeSerf("a", 2);
  serf.query("uptime", bytes(""), { timeoutMs: 1_500, requestAck: true }, 0);
  const broadcast = drain(serf).find((o) => o.type === "broadcast");
  assert.ok(broadcast?.type === "broadcast");
  const query = decodeSerfMessage(broadcast.payload);
  assert.ok(query.type === "query");
  assert.equal(query.timeoutNs, 1_500_000_000);
  assert.ok(query.id < 2 ** 31);
  assert.equal(query.flags, QueryFlag.ack);
  assert.deepEqual([...query.address], [127, 0, 0, 2]);
  assert.equal(query.sourceNode, "a");
});

test("Serf accepts another core's push/pull state and its tags in meta", () => {
  const b = makeSerf("b", 3, { tags: { role: "db", dc: "east" } });
  assert.deepEqual(decodeTags(b.localMeta()), new Map([["role", "db"], ["dc", "east"]]));
  b.handle({ type: "memberJoined", node: nodeOf("c", 4) }, 1);
  b.handle({ type: "memberLeft", name: "c" }, 2);
  b.forceLeave("c", 3);
  const a = makeSerf("a", 2);
  a.handle({ type: "memberJoined", node: nodeOf("c", 4) }, 1);
  a.handle({ type: "remoteState", state: b.localState(true), join: true }, 4);
  assert.equal(a.member("c")?.status, "leaving", "b's left list becomes a leave intent");
});
