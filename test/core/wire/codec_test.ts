// Goal: every memberlist and Serf message survives encode then decode unchanged, and decode then
// encode reproduces the bytes, for any valid field values (not only the captured ones); Go's
// rules for nil, omitempty, missing and unknown fields hold. Method: hand-checked bytes from
// gossip-wire.md §4 and §11, then fast-check arbitraries for each message type.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeFilter,
  decodeMessage,
  decodePingPayload,
  decodeProtocolVersions,
  decodeSerfMessage,
  decodeTags,
  encodeFilter,
  encodeMessage,
  encodePingPayload,
  encodeProtocolVersions,
  encodeSerfMessage,
  encodeTags,
  type MemberlistMessage,
  type SerfMessage,
} from "../../../src/core/wire/mod.ts";
import { fromHex, toHex } from "./_vectors.ts";

test("encodeMessage() writes a nack and a ping as memberlist does (gossip-wire.md §4)", () => {
  assert.equal(toHex(encodeMessage({ type: "nack", sequence: 18 })), "0b81a55365714e6f12");
  const ping: MemberlistMessage = {
    type: "ping",
    sequence: 1,
    node: "a",
    sourceAddress: fromHex("7f000003"),
    sourcePort: 7947,
    sourceNode: "b",
  };
  assert.equal(
    toHex(encodeMessage(ping)),
    "0085a44e6f6465a161a55365714e6f01aa536f7572636541646472a47f000003aa536f757263654e6f6465a162aa536f75726365506f7274cd1f0b",
  );
});

test("encodeMessage() drops empty omitempty fields of a ping, and decoding restores zeros", () => {
  const bare: MemberlistMessage = {
    type: "ping",
    sequence: 7,
    node: "",
    sourceAddress: new Uint8Array(0),
    sourcePort: 0,
    sourceNode: "",
  };
  const bytes = encodeMessage(bare);
  // {Node: "", SeqNo: 7}: Node has no omitempty tag, the Source* fields do.
  assert.equal(toHex(bytes), "0082a44e6f6465a0a55365714e6f07");
  assert.deepStrictEqual(decodeMessage(bytes), bare);
});

test("decodeMessage() follows Go: unknown keys skipped, missing keys zero, nil body zero", () => {
  // {SeqNo: 5, Extra: [1, 2]} — Extra is unknown to ackResp.
  const withUnknown = fromHex(`0282a55365714e6f05a5457874726192${"01"}${"02"}`);
  assert.deepStrictEqual(decodeMessage(withUnknown), {
    type: "ack",
    sequence: 5,
    payload: undefined,
  });
  assert.deepStrictEqual(decodeMessage(fromHex("02c0")), {
    type: "ack",
    sequence: 0,
    payload: undefined,
  });
  assert.deepStrictEqual(decodeMessage(fromHex("0b80")), { type: "nack", sequence: 0 });
  // Trailing bytes after the body are ignored, as Go's single Decode call ignores them.
  assert.deepStrictEqual(decodeMessage(fromHex("0b80ffff")), { type: "nack", sequence: 0 });
  // A uint32 field refuses 2^32, a uint16 refuses 65536.
  assert.throws(() => decodeMessage(fromHex("0b81a55365714e6fcf0000000100000000")), SyntaxError);
  assert.throws(() => decodeMessage(fromHex("07")), SyntaxError); // framing, not a message
  assert.throws(() => decodeMessage(new Uint8Array(0)), SyntaxError);
});

test("encodeSerfMessage() writes a join and a leave as serf does (gossip-wire.md §11.3)", () => {
  assert.equal(
    toHex(encodeSerfMessage({ type: "join", lamportTime: 1, node: "b" })),
    "0182a54c54696d6501a44e6f6465a162",
  );
  assert.equal(
    toHex(encodeSerfMessage({ type: "leave", lamportTime: 3, node: "c", prune: false })),
    "0083a54c54696d6503a44e6f6465a163a55072756e65c2",
  );
});

test("encodeTags() and decodeTags() follow Serf, including the role fallback", () => {
  assert.equal(toHex(encodeTags(new Map([["role", "web"]]))), "ff81a4726f6c65a3776562");
  assert.equal(toHex(encodeTags(new Map())), "ff80");
  assert.deepStrictEqual(decodeTags(fromHex("ff80")), new Map());
  assert.deepStrictEqual(decodeTags(new TextEncoder().encode("web")), new Map([["role", "web"]]));
  assert.deepStrictEqual(decodeTags(new Uint8Array(0)), new Map([["role", ""]]));
  assert.throws(() => decodeTags(fromHex("ff81a4")), SyntaxError);
});

test("decodeProtocolVersions() reads serf's Vsn and refuses other lengths", () => {
  const versions = decodeProtocolVersions(fromHex("010502020505"));
  assert.deepStrictEqual(versions, {
    protocolMin: 1,
    protocolMax: 5,
    protocolCur: 2,
    delegateMin: 2,
    delegateMax: 5,
    delegateCur: 5,
  });
  assert.equal(toHex(encodeProtocolVersions(versions!)), "010502020505");
  assert.equal(decodeProtocolVersions(fromHex("010502")), undefined);
});

test("decodePingPayload() ignores empty payloads and refuses other versions", () => {
  assert.equal(decodePingPayload(undefined), undefined);
  assert.equal(decodePingPayload(new Uint8Array(0)), undefined);
  assert.throws(() => decodePingPayload(fromHex("0280")), SyntaxError);
});

/** `fc.record` with ordinary prototypes, as decoded messages have. */
function record<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const u64 = fc.maxSafeNat();
const u8 = fc.integer({ min: 0, max: 0xff });
const name = fc.string({ unit: "grapheme", maxLength: 70 });
const bytes = fc.uint8Array({ maxLength: 70 });
const optionalBytes = fc.option(bytes, { nil: undefined });
const address = fc.oneof(
  fc.uint8Array({ minLength: 4, maxLength: 4 }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
);
const stringMap = fc.uniqueArray(fc.tuple(name, name), { selector: ([key]) => key, maxLength: 20 })
  .map((entries) => new Map(entries));

const memberlistMessage: fc.Arbitrary<MemberlistMessage> = fc.oneof(
  record({
    type: fc.constant("ping" as const),
    sequence: u32,
    node: name,
    sourceAddress: bytes,
    sourcePort: u16,
    sourceNode: name,
  }),
  record({
    type: fc.constant("indirectPing" as const),
    sequence: u32,
    target: address,
    port: u16,
    node: name,
    nack: fc.boolean(),
    sourceAddress: bytes,
    sourcePort: u16,
    sourceNode: name,
  }),
  record({ type: fc.constant("ack" as const), sequence: u32, payload: optionalBytes }),
  record({ type: fc.constant("nack" as const), sequence: u32 }),
  record({
    type: fc.constantFrom("suspect" as const, "dead" as const),
    incarnation: u32,
    node: name,
    from: name,
  }),
  record({
    type: fc.constant("alive" as const),
    incarnation: u32,
    node: name,
    address,
    port: u16,
    meta: fc.uint8Array({ maxLength: 512 }),
    versions: fc.uint8Array({ minLength: 6, maxLength: 6 }),
  }),
  record({ type: fc.constant("user" as const), payload: bytes }),
  record({ type: fc.constant("err" as const), error: name }),
);

const coordinate = record({
  vec: fc.array(fc.double(), { maxLength: 8 }),
  error: fc.double(),
  adjustment: fc.double(),
  height: fc.double(),
});

const member = record({
  name,
  address,
  port: u16,
  tags: stringMap,
  status: fc.integer({ min: 0, max: 4 }),
  protocolMin: u8,
  protocolMax: u8,
  protocolCur: u8,
  delegateMin: u8,
  delegateMax: u8,
  delegateCur: u8,
});

const pushPull = record({
  type: fc.constant("pushPull" as const),
  lamportTime: u64,
  statusLamportTimes: fc.uniqueArray(fc.tuple(name, u64), {
    selector: ([key]) => key,
    maxLength: 10,
  })
    .map((entries) => new Map(entries)),
  leftMembers: fc.array(name, { maxLength: 5 }),
  eventLamportTime: u64,
  events: fc.array(
    fc.option(
      record({
        lamportTime: u64,
        events: fc.array(record({ name, payload: optionalBytes }), { maxLength: 3 }),
      }),
      { nil: undefined },
    ),
    { maxLength: 40 },
  ),
  queryLamportTime: u64,
});

const serfMessage: fc.Arbitrary<SerfMessage> = fc.oneof(
  record({
    type: fc.constant("leave" as const),
    lamportTime: u64,
    node: name,
    prune: fc.boolean(),
  }),
  record({ type: fc.constant("join" as const), lamportTime: u64, node: name }),
  pushPull,
  record({
    type: fc.constant("userEvent" as const),
    lamportTime: u64,
    name,
    payload: optionalBytes,
    coalesce: fc.boolean(),
  }),
  record({
    type: fc.constant("query" as const),
    lamportTime: u64,
    id: u32,
    address,
    port: u16,
    sourceNode: name,
    filters: fc.option(fc.array(bytes, { maxLength: 4 }), { nil: undefined }),
    flags: u32,
    relayFactor: u8,
    timeoutNs: fc.maxSafeInteger(),
    name,
    payload: optionalBytes,
  }),
  record({
    type: fc.constant("queryResponse" as const),
    lamportTime: u64,
    id: u32,
    from: name,
    flags: u32,
    payload: optionalBytes,
  }),
  record({
    type: fc.constant("conflictResponse" as const),
    member: fc.option(member, { nil: undefined }),
  }),
  record({ type: fc.constant("keyRequest" as const), key: bytes }),
  record({
    type: fc.constant("keyResponse" as const),
    result: fc.boolean(),
    message: name,
    keys: fc.array(name, { maxLength: 5 }),
    primaryKey: name,
  }),
  record({
    type: fc.constant("relay" as const),
    header: record({
      destAddress: record({ ip: address, port: u16, zone: name }),
      destName: name,
    }),
    message: bytes,
  }),
);

test("decodeMessage(encodeMessage(m)) is m for every memberlist message, and bytes are stable", () => {
  fc.assert(
    fc.property(memberlistMessage, (message) => {
      const encoded = encodeMessage(message);
      const decoded = decodeMessage(encoded);
      assert.deepStrictEqual(decoded, message);
      assert.deepStrictEqual(encodeMessage(decoded), encoded);
    }),
    { numRuns: 1_000 },
  );
});

test("decodeSerfMessage(encodeSerfMessage(m)) is m for every Serf message, and bytes are stable", () => {
  fc.assert(
    fc.property(serfMessage, (message) => {
      const encoded = encodeSerfMessage(message);
      const decoded = decodeSerfMessage(encoded);
      assert.deepStrictEqual(decoded, message);
      assert.deepStrictEqual(encodeSerfMessage(decoded), encoded);
    }),
    { numRuns: 1_000 },
  );
});

test("tags, filters and ping payloads round-trip", () => {
  fc.assert(
    fc.property(
      stringMap,
      coordinate,
      fc.array(name, { maxLength: 6 }),
      name,
      name,
      (tags, coord, nodes, tag, expression) => {
        assert.deepStrictEqual(decodeTags(encodeTags(tags)), tags);
        assert.deepStrictEqual(decodePingPayload(encodePingPayload(coord)), coord);
        assert.deepStrictEqual(decodeFilter(encodeFilter({ type: "node", nodes })), {
          type: "node",
          nodes,
        });
        const tagFilter = { type: "tag" as const, tag, expression };
        assert.deepStrictEqual(decodeFilter(encodeFilter(tagFilter)), tagFilter);
      },
    ),
    { numRuns: 300 },
  );
});
