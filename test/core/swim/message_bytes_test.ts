// Goal: `messageBytes()` gives exactly the length `encodeMessage()` produces, so packets packed
// by the broadcast queue never exceed their budget. Method: fast-check generates alive,
// suspect, dead and user messages with names and metadata across every msgpack length class
// (fixstr, str16), non-ASCII names and incarnations across every uint width, and compares.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { messageBytes } from "../../../src/core/swim/mod.ts";
import { encodeMessage, type MemberlistMessage } from "../../../src/core/wire/mod.ts";

const name = fc.string({ unit: "grapheme", maxLength: 40 });
const bytes = (maxLength: number) => fc.uint8Array({ maxLength });
const incarnation = fc.oneof(fc.nat(300), fc.nat(0xffff_ffff));

const message: fc.Arbitrary<MemberlistMessage> = fc.oneof(
  fc.record({
    type: fc.constant("alive" as const),
    node: name,
    incarnation,
    address: bytes(16),
    port: fc.nat(0xffff),
    meta: bytes(512),
    versions: bytes(6),
  }),
  fc.record({ type: fc.constant("suspect" as const), node: name, incarnation, from: name }),
  fc.record({ type: fc.constant("dead" as const), node: name, incarnation, from: name }),
  fc.record({ type: fc.constant("user" as const), payload: bytes(600) }),
  fc.record({ type: fc.constant("nack" as const), sequence: fc.nat(0xffff_ffff) }),
);

test("messageBytes() equals the encoded length of every gossiped message", () => {
  fc.assert(
    fc.property(message, (m) => {
      assert.equal(messageBytes(m), encodeMessage(m).length);
    }),
    { numRuns: 2_000, seed: 42 },
  );
});

test("messageBytes() of a one-letter suspect message is 29", () => {
  assert.equal(messageBytes({ type: "suspect", node: "b", incarnation: 1, from: "a" }), 29);
});
