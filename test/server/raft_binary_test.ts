// Goal: the packed form of the hot Raft messages round-trips exactly, packs a range of entries
// once for all followers, and turns every malformed input into `undefined` (never a throw or a
// message the core would assert on). Method: each message type encoded and decoded; every
// truncation and single-byte corruption of a packed AppendEntries decoded; fast-check for
// arbitrary entries.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Entry, Message } from "../../src/core/raft/messages.ts";
import {
  decodePacked,
  encodePacked,
  EntryPacker,
  isPackable,
  type PackedMessage,
} from "../../src/server/_raft_binary.ts";

const sender = { id: "a1b2", name: "node-ä", address: "127.0.15.1:8300" };
const entries: Entry[] = [
  { type: "noop", index: 7, term: 3 },
  { type: "normal", index: 8, term: 3, data: new Uint8Array([1, 2, 3]) },
  {
    type: "membership",
    index: 9,
    term: 3,
    membership: { voters: ["a1b2", "c"], nonVoters: ["d"] },
  },
  { type: "normal", index: 10, term: 4, data: new Uint8Array(0) },
];
const envelope = { from: sender.id, to: "c", term: 4 };
const messages: PackedMessage[] = [
  { type: "appendEntries", ...envelope, prevIndex: 6, prevTerm: 2, commit: 5, entries },
  { type: "appendEntries", ...envelope, prevIndex: 10, prevTerm: 4, commit: 10, entries: [] },
  { type: "appendEntriesResponse", ...envelope, index: 9, reject: true, hintIndex: 4, hintTerm: 2 },
  { type: "heartbeat", ...envelope, commit: 2 ** 53 - 1, round: 1_048_577 },
  { type: "heartbeatResponse", ...envelope, round: 0 },
];

function roundTrip(message: PackedMessage, packer = new EntryPacker()) {
  return decodePacked(encodePacked(sender, message, packer));
}

describe("packed Raft messages", () => {
  it("round-trip every packed type exactly, with the sender", () => {
    for (const message of messages) {
      assert.deepEqual(roundTrip(message), { sender, message }, message.type);
    }
  });

  it("pack only the hot types", () => {
    const vote: Message = {
      type: "requestVote",
      ...envelope,
      preVote: false,
      force: false,
      lastIndex: 1,
      lastTerm: 1,
    };
    assert.equal(isPackable(vote), false);
    assert.ok(messages.every(isPackable));
  });

  it("pack one range of entries once for every follower", () => {
    const packer = new EntryPacker();
    const first = packer.pack(entries);
    assert.equal(packer.pack([...entries]), first);
    assert.notEqual(packer.pack(entries.slice(1)), first);
    packer.clear();
    assert.notEqual(packer.pack(entries), first);
    assert.deepEqual(packer.pack(entries), first);
  });

  it("decode every truncation and corruption to a message or undefined, never a throw", () => {
    const bytes = encodePacked(sender, messages[0], new EntryPacker());
    for (let length = 0; length < bytes.byteLength; length++) {
      assert.equal(decodePacked(bytes.subarray(0, length)), undefined, `cut at ${length}`);
    }
    const longer = new Uint8Array(bytes.byteLength + 1);
    longer.set(bytes);
    assert.equal(decodePacked(longer), undefined, "trailing bytes");
    for (let at = 0; at < bytes.byteLength; at++) {
      for (const value of [0x00, 0xff, 0x7f]) {
        const corrupt = bytes.slice();
        corrupt[at] = value;
        const decoded = decodePacked(corrupt); // Must not throw.
        if (decoded === undefined) continue;
        const message = decoded.message;
        assert.ok(Number.isSafeInteger(message.term) && message.term >= 0);
        if (message.type === "appendEntries") {
          for (const entry of message.entries) assert.ok(Number.isSafeInteger(entry.index));
        }
      }
    }
    assert.equal(decodePacked(new Uint8Array([0xa1, 9])), undefined, "unknown type");
    assert.equal(decodePacked(new Uint8Array([0x00, 0])), undefined, "bad magic");
  });

  it("round-trip arbitrary normal entries (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }),
        fc.nat({ max: 2 ** 40 }),
        (datas, base) => {
          const list: Entry[] = datas.map((data, i) => ({
            type: "normal",
            index: base + i + 1,
            term: 1 + Math.floor(i / 3),
            data,
          }));
          const message: PackedMessage = {
            type: "appendEntries",
            ...envelope,
            prevIndex: base,
            prevTerm: 1,
            commit: base,
            entries: list,
          };
          assert.deepEqual(roundTrip(message)?.message, message);
        },
      ),
      { numRuns: 200 },
    );
  });
});
