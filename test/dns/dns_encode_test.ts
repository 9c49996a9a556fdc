// Goal: encodeDnsResponse writes what dns-packet would, only with names compressed as RFC 1035
// §4.1.4 allows (never inside SRV targets, RFC 2782), frames TCP messages with their length, and
// refuses what it cannot write rather than sending wrong bytes. Method: hand-built response
// packets, decoded back with dns-packet and compared with dns-packet's own (uncompressed)
// encoding, plus checks of the raw bytes where a pointer must or must not appear.
// (test/dns/dns_answer_test.ts also cross-checks every response of that suite the same way.)
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type Answer, decode, encode, type Packet } from "dns-packet";
import { encodeDnsResponse } from "../../src/dns/dns_encode.ts";

function srvResponse(count: number): Packet {
  const answers: Answer[] = [];
  const additionals: Answer[] = [];
  for (let index = 0; index < count; index++) {
    const target = `node-${index}.node.dc1.consul`;
    answers.push({
      type: "SRV",
      name: "web.service.consul",
      ttl: 0,
      class: "IN",
      data: { priority: 1, weight: 1, port: 8000 + index, target },
    });
    additionals.push({
      type: "A",
      name: target,
      ttl: 0,
      class: "IN",
      data: `10.0.${index >> 8}.${index & 255}`,
    });
  }
  return {
    type: "response",
    id: 99,
    flags: 1 << 10,
    questions: [{ name: "web.service.consul", type: "SRV", class: "IN" }],
    answers,
    additionals,
  };
}

/** Offsets of every compression pointer to `offset` in `bytes` (pairs 0xC0|high, low). */
function pointersTo(bytes: Uint8Array, offset: number): number[] {
  const found: number[] = [];
  for (let index = 0; index + 1 < bytes.length; index++) {
    if (bytes[index] === (0xc0 | (offset >> 8)) && bytes[index + 1] === (offset & 0xff)) {
      found.push(index);
    }
  }
  return found;
}

describe("encodeDnsResponse()", () => {
  it("decodes exactly as dns-packet's encoding does, and is smaller", () => {
    const packet = srvResponse(3);
    const reference = encode(structuredClone(packet));
    const compressed = encodeDnsResponse(packet, 0);
    assert.deepEqual(decode(Buffer.from(compressed)), decode(reference));
    assert.ok(compressed.length < reference.length, `${compressed.length} < ${reference.length}`);
  });

  it("points answer owner names at the question, never compresses SRV targets", () => {
    const bytes = encodeDnsResponse(srvResponse(2), 0);
    // The question name starts right after the 12-byte header: every answer owner points there.
    assert.equal(pointersTo(bytes, 12).length, 2);
    // The first SRV target is written out in full, after the question (12 + 20 + 4), the
    // answer's owner pointer (2), type, class, ttl, rdlength (10) and priority, weight, port (6).
    const targetAt = 12 + 20 + 4 + 2 + 10 + 6;
    assert.equal(
      Buffer.from(bytes.subarray(targetAt, targetAt + 7)).toString("latin1"),
      "\x06node-0",
    );
    // Its additional A record's owner name is a pointer to that target.
    assert.equal(pointersTo(bytes, targetAt).length, 1);
  });

  it("frames a TCP message with its 2-byte length", () => {
    const packet = srvResponse(1);
    const plain = encodeDnsResponse(packet, 0);
    const framed = encodeDnsResponse(packet, 2);
    assert.equal((framed[0] << 8) | framed[1], plain.length);
    assert.deepEqual(framed.subarray(2), plain);
  });

  it("sets QR and keeps the opcode, flags and rcode it is given", () => {
    const packet: Packet = {
      type: "response",
      id: 0xbeef,
      flags: (2 << 11) | (1 << 10) | (1 << 8) | 3,
      questions: [{ name: "x.consul", type: "A", class: "IN" }],
    };
    const bytes = encodeDnsResponse(packet, 0);
    assert.deepEqual([...bytes.subarray(0, 4)], [0xbe, 0xef, 0x80 | (2 << 3) | 0x04 | 0x01, 3]);
  });

  it("writes the question's type and class, also unknown types", () => {
    for (const type of ["A", "AAAA", "MX", "UNKNOWN_65"]) {
      const packet: Packet = {
        type: "response",
        questions: [{ name: "x.consul", type: type as "A", class: "IN" }],
      };
      const decoded = decode(Buffer.from(encodeDnsResponse(packet, 0)));
      assert.equal(decoded.questions?.[0].type, type);
    }
  });

  it("writes OPT with Client Subnet as dns-packet does", () => {
    const packet: Packet = {
      type: "response",
      questions: [{ name: "x.consul", type: "A", class: "IN" }],
      additionals: [{
        type: "OPT",
        name: ".",
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [{
          code: 8,
          family: 1,
          sourcePrefixLength: 20,
          scopePrefixLength: 0,
          ip: "10.1.16.0",
        }],
      }],
    };
    const mine = encodeDnsResponse(packet, 0);
    assert.deepEqual(Buffer.from(mine), encode(structuredClone(packet)));
  });

  it("throws rather than write what it does not support or cannot fit", () => {
    const mx: Packet = {
      type: "response",
      answers: [{ type: "MX", name: "x.consul", data: { exchange: "mail.consul" } }],
    };
    assert.throws(() => encodeDnsResponse(mx, 0), TypeError);
    const badLabel: Packet = {
      type: "response",
      answers: [{ type: "CNAME", name: "x.consul", data: "a".repeat(64) + ".consul" }],
    };
    assert.throws(() => encodeDnsResponse(badLabel, 0), RangeError);
    const notIp: Packet = { type: "response", answers: [{ type: "A", name: "x", data: "1.2.3" }] };
    assert.throws(() => encodeDnsResponse(notIp, 0), RangeError);
    const longText: Packet = {
      type: "response",
      answers: [{ type: "TXT", name: "x", data: ["y".repeat(256)] }],
    };
    assert.throws(() => encodeDnsResponse(longText, 0), RangeError);
    assert.throws(() => encodeDnsResponse(srvResponse(2_000), 2), RangeError);
    // The shared scratch buffer is fine after a throw.
    const ok = encodeDnsResponse(srvResponse(1), 0);
    assert.equal(decode(Buffer.from(ok)).answers?.length, 1);
  });
});
