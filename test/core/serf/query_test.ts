// Goal: queries follow Serf 0.9.4 (gossip-wire.md §11.8-11.9): node and tag filters (tag
// expressions unanchored, as Go's regexp), acks and one response per member sent to the
// query's address, relays through `relayFactor` random alive members, the 1024-byte query and
// response limits, de-duplication by (clock, id), timeouts that close the query, and the
// internal queries: ping, the name-conflict vote, and keyring operations handed to the shell.
// Method: Serf cores fed encoded queries and responses with explicit `nowMs`; outputs decoded
// with the wire codecs.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeKeyResponsePayload,
  encodeQueryFilters,
  queryFiltersMatch,
  type SerfOutput,
  tallyConflictVote,
} from "../../../src/core/serf/mod.ts";
import {
  decodeSerfMessage,
  encodeSerfMessage,
  QueryFlag,
  type SerfQuery,
} from "../../../src/core/wire/mod.ts";
import { addressOf, bytes, drain, makeSerf, nodeOf, ofType } from "./_harness.ts";

function queryFrom(overrides: Partial<SerfQuery> = {}): SerfQuery {
  return {
    lamportTime: 3,
    id: 42,
    ...addressOf(9),
    sourceNode: "origin",
    filters: undefined,
    flags: QueryFlag.ack,
    relayFactor: 0,
    timeoutNs: 5_000_000_000,
    name: "uptime",
    payload: bytes("?"),
    ...overrides,
  };
}

function deliver(serf: ReturnType<typeof makeSerf>, query: SerfQuery, nowMs: number): void {
  serf.handle(
    { type: "userMessage", payload: encodeSerfMessage({ type: "query", ...query }) },
    nowMs,
  );
}

function decodedSends(outputs: SerfOutput[]) {
  return ofType(outputs, "sendUserMessage").map((o) => ({
    ...o,
    message: decodeSerfMessage(o.payload),
  }));
}

describe("query filters", () => {
  const tags = new Map([["role", "web-frontend"], ["dc", "east"]]);

  test("queryFiltersMatch() requires every filter: node list and unanchored tag regex", () => {
    const match = (options: Parameters<typeof encodeQueryFilters>[0]) =>
      queryFiltersMatch(encodeQueryFilters(options), "a", tags);
    assert.equal(match({}), true);
    assert.equal(match({ filterNodes: ["a", "b"] }), true);
    assert.equal(match({ filterNodes: ["b"] }), false);
    assert.equal(match({ filterTags: { role: "web" } }), true, "unanchored, as Go's MatchString");
    assert.equal(match({ filterTags: { role: "^web$" } }), false);
    assert.equal(match({ filterTags: { role: "web", dc: "west" } }), false);
    assert.equal(match({ filterTags: { missing: "^$" } }), true, "a missing tag is empty");
    assert.equal(
      match({ filterTags: { role: "(" } }),
      false,
      "an invalid expression matches nothing",
    );
  });

  test("Serf re-gossips a query it does not match but neither acks nor delivers it", () => {
    const serf = makeSerf("a", 2, { tags: { role: "db" } });
    const filters = encodeQueryFilters({ filterTags: { role: "web" } });
    deliver(serf, queryFrom({ filters }), 1);
    assert.deepEqual(drain(serf).map((o) => o.type), ["broadcast"]);
  });
});

describe("Serf queries", () => {
  test("Serf acks, delivers, and responds to a query once; duplicates are dropped", () => {
    const serf = makeSerf("a", 2);
    deliver(serf, queryFrom(), 1);
    deliver(serf, queryFrom(), 2);
    const outputs = drain(serf);
    assert.deepEqual(outputs.map((o) => o.type), ["sendUserMessage", "queryReceived", "broadcast"]);
    const [ack] = decodedSends(outputs);
    assert.deepEqual([...ack.to.address], [127, 0, 0, 9]);
    assert.ok(ack.message.type === "queryResponse" && ack.message.flags === QueryFlag.ack);
    assert.equal(serf.stats().queriesDuplicate, 1);
    const [received] = ofType(outputs, "queryReceived");
    assert.equal(received.query.deadlineAtMs, 5_001);
    assert.throws(
      () => serf.respond(received.query.handle, new Uint8Array(1_100), 3),
      /over the limit of 1024/,
    );
    serf.respond(received.query.handle, bytes("up 3 days"), 3);
    const [response] = decodedSends(drain(serf));
    assert.ok(response.message.type === "queryResponse" && response.message.from === "a");
    assert.throws(
      () => serf.respond(received.query.handle, bytes("again"), 4),
      /is answered or unknown/,
    );
  });

  test("Serf refuses a response after the query's deadline", () => {
    const serf = makeSerf("a", 2);
    deliver(serf, queryFrom(), 1);
    const [received] = ofType(drain(serf), "queryReceived");
    assert.throws(
      () => serf.respond(received.query.handle, bytes("late"), 6_000),
      /deadline passed/,
    );
  });

  test("Serf relays acks and responses through relayFactor random alive members", () => {
    const serf = makeSerf("a", 2);
    for (let i = 3; i <= 6; i += 1) {
      serf.handle({ type: "memberJoined", node: nodeOf(`m${i}`, i) }, 1);
    }
    serf.handle({ type: "memberLeft", name: "m6" }, 1);
    drain(serf);
    deliver(serf, queryFrom({ relayFactor: 2 }), 2);
    const sends = decodedSends(drain(serf));
    assert.equal(sends.length, 3, "one direct ack and two relays");
    const relays = sends.filter((s) => s.message.type === "relay");
    assert.equal(relays.length, 2);
    for (const relay of relays) {
      assert.ok(["m3", "m4", "m5"].includes(relay.node ?? ""), "alive members other than us");
      assert.ok(relay.message.type === "relay");
      assert.equal(relay.message.header.destName, "origin");
      assert.equal(decodeSerfMessage(relay.message.message).type, "queryResponse");
    }
    assert.notEqual(relays[0].node, relays[1].node);
  });

  test("Serf forwards a relay's inner message to its destination", () => {
    const serf = makeSerf("a", 2);
    const inner = encodeSerfMessage({
      type: "queryResponse",
      lamportTime: 1,
      id: 2,
      from: "x",
      flags: 0,
      payload: bytes("hi"),
    });
    const header = {
      destAddress: { ip: Uint8Array.of(127, 0, 0, 7), port: 7946, zone: "" },
      destName: "o",
    };
    serf.handle({
      type: "userMessage",
      payload: encodeSerfMessage({ type: "relay", header, message: inner }),
    }, 1);
    const [forward] = ofType(drain(serf), "sendUserMessage");
    assert.deepEqual(forward.payload, inner);
    assert.equal(forward.node, "o");
  });

  test("Serf.query() collects acks and responses once per member until the timeout", () => {
    const serf = makeSerf("a", 2);
    const { lamportTime, id, deadlineAtMs } = serf.query("uptime", bytes(""), {
      requestAck: true,
      timeoutMs: 1_000,
    }, 10);
    assert.equal(deadlineAtMs, 1_010);
    drain(serf);
    let nowMs = 20;
    const answer = (from: string, flags: number, answerId = id) =>
      serf.handle({
        type: "userMessage",
        payload: encodeSerfMessage({
          type: "queryResponse",
          lamportTime,
          id: answerId,
          from,
          flags,
          payload: flags ? undefined : bytes(from),
        }),
      }, nowMs);
    answer("b", QueryFlag.ack);
    answer("b", QueryFlag.ack);
    answer("b", 0);
    answer("b", 0);
    answer("c", 0, id + 1); // another query's id
    assert.deepEqual(drain(serf).map((o) => o.type), ["queryAck", "queryResponse"]);
    serf.tick(1_010);
    const [closed] = ofType(drain(serf), "queryClosed");
    assert.deepEqual({ acks: closed.acks, responses: closed.responses }, { acks: 1, responses: 1 });
    nowMs = 1_020;
    answer("d", 0);
    assert.equal(drain(serf).length, 0, "closed queries take no more answers");
  });

  test("Serf.query() refuses a query over 1024 bytes", () => {
    const serf = makeSerf("a", 2);
    assert.throws(
      () => serf.query("big", new Uint8Array(1_000), {}, 1),
      /Cannot send query: it encodes to/,
    );
  });

  test("Serf's default query timeout is gossip interval x 16 x ceil(log10(n + 1))", () => {
    const serf = makeSerf("a", 2);
    assert.equal(serf.query("q", bytes(""), {}, 0).deadlineAtMs, 3_200);
  });
});

describe("Serf internal queries", () => {
  test("Serf answers _serf_ping with an ack only, and never shows it to the application", () => {
    const serf = makeSerf("a", 2);
    deliver(serf, queryFrom({ name: "_serf_ping", payload: undefined }), 1);
    assert.deepEqual(drain(serf).map((o) => o.type), ["sendUserMessage", "broadcast"]);
  });

  test("Serf answers _serf_conflict with the member it knows, but not about itself", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "memberJoined", node: nodeOf("b", 3, { role: "web" }) }, 1);
    drain(serf);
    deliver(serf, queryFrom({ name: "_serf_conflict", payload: bytes("b"), flags: 0 }), 2);
    const [response] = decodedSends(drain(serf));
    assert.ok(response.message.type === "queryResponse");
    const inner = decodeSerfMessage(response.message.payload!);
    assert.ok(inner.type === "conflictResponse" && inner.member !== undefined);
    assert.equal(inner.member.name, "b");
    assert.equal(inner.member.status, 1);
    assert.deepEqual([...inner.member.address], [127, 0, 0, 3]);
    deliver(serf, queryFrom({ id: 43, name: "_serf_conflict", payload: bytes("a"), flags: 0 }), 3);
    assert.equal(decodedSends(drain(serf)).length, 0);
  });

  test("tallyConflictVote() keeps the name only with a majority of matching answers", () => {
    const me = addressOf(2);
    const answer = (index: number | undefined) =>
      encodeSerfMessage({
        type: "conflictResponse",
        member: index === undefined ? undefined : {
          name: "a",
          ...addressOf(index),
          tags: new Map(),
          status: 1,
          protocolMin: 1,
          protocolMax: 5,
          protocolCur: 2,
          delegateMin: 2,
          delegateMax: 5,
          delegateCur: 5,
        },
      });
    assert.deepEqual(tallyConflictVote([answer(2), answer(2), answer(9)], me), {
      responses: 3,
      matching: 2,
      won: true,
    });
    assert.deepEqual(tallyConflictVote([answer(2), answer(9)], me), {
      responses: 2,
      matching: 1,
      won: false,
    });
    assert.deepEqual(tallyConflictVote([answer(2), answer(undefined), bytes("junk")], me), {
      responses: 2,
      matching: 1,
      won: false,
    });
    assert.equal(tallyConflictVote([], me).won, false, "Serf quits on 0 / 0 too");
  });

  test("Serf shuts down after losing the vote on a conflict about its own name", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "conflict", name: "a", existing: addressOf(2), other: addressOf(8) }, 0);
    const [broadcast] = ofType(drain(serf), "broadcast");
    const query = decodeSerfMessage(broadcast.payload);
    assert.ok(query.type === "query" && query.name === "_serf_conflict");
    const member = {
      name: "a",
      ...addressOf(8),
      tags: new Map(),
      status: 1,
      protocolMin: 1,
      protocolMax: 5,
      protocolCur: 2,
      delegateMin: 2,
      delegateMax: 5,
      delegateCur: 5,
    };
    for (const from of ["b", "c"]) {
      const payload = encodeSerfMessage({ type: "conflictResponse", member });
      serf.handle({
        type: "userMessage",
        payload: encodeSerfMessage({
          type: "queryResponse",
          lamportTime: query.lamportTime,
          id: query.id,
          from,
          flags: 0,
          payload,
        }),
      }, 10);
    }
    assert.equal(drain(serf).length, 0, "the vote is internal");
    serf.tick(3_200);
    const [shutdown] = ofType(drain(serf), "shutdown");
    assert.match(shutdown.reason, /minority in name conflict resolution \[0 \/ 2\]/);
    assert.equal(serf.state, "shutdown");
  });

  test("Serf hands keyring queries to the shell and answers with its result", () => {
    const serf = makeSerf("a", 2);
    const key = new Uint8Array(16).fill(7);
    deliver(
      serf,
      queryFrom({
        name: "_serf_install-key",
        payload: encodeSerfMessage({ type: "keyRequest", key }),
        flags: 0,
      }),
      1,
    );
    const [request] = ofType(drain(serf), "keyringRequest");
    assert.equal(request.operation, "install");
    assert.deepEqual(request.key, key);
    serf.handle({
      type: "keyringResult",
      requestId: request.requestId,
      result: { ok: true, message: "", keys: [], primaryKey: undefined },
    }, 2);
    const [response] = decodedSends(drain(serf));
    assert.ok(response.message.type === "queryResponse");
    assert.equal(decodeKeyResponsePayload(response.message.payload)?.result, true);
  });

  test("Serf truncates a key list that does not fit the response limit", () => {
    const serf = makeSerf("a", 2);
    deliver(
      serf,
      queryFrom({
        name: "_serf_list-keys",
        payload: encodeSerfMessage({ type: "keyRequest", key: new Uint8Array(0) }),
        flags: 0,
      }),
      1,
    );
    const [request] = ofType(drain(serf), "keyringRequest");
    const keys = Array.from({ length: 40 }, (_, i) => new Uint8Array(32).fill(i));
    serf.handle({
      type: "keyringResult",
      requestId: request.requestId,
      result: { ok: true, message: "", keys, primaryKey: keys[0] },
    }, 2);
    const [response] = ofType(drain(serf), "sendUserMessage");
    assert.ok(response.payload.length <= 1_024);
    const decoded = decodeSerfMessage(response.payload);
    assert.ok(decoded.type === "queryResponse");
    const list = decodeKeyResponsePayload(decoded.payload)!;
    assert.ok(list.keys.length > 0 && list.keys.length < 40);
    assert.match(list.message, new RegExp(`showing first ${list.keys.length} of 40 keys`));
  });
});
