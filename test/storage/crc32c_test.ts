// Goal: crc32c() computes CRC-32C (Castagnoli), including across buffers.
// Method: the published check value ("123456789" → 0xE3069283) and the iSCSI test vectors of
// RFC 3720 §B.4, then random buffers of every length 0..300 against a bit-at-a-time reference,
// whole and split at a random point (exercising the 8-byte path and the byte remainder).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { crc32c, crc32cUpdate } from "../../src/storage/crc32c.ts";

function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe("crc32c", () => {
  it("crc32c() matches the check value and the RFC 3720 vectors", () => {
    assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  });

  it("crc32c() agrees with a bitwise reference, and crc32cUpdate() across any split", () => {
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let length = 0; length <= 300; length++) {
      const bytes = Uint8Array.from({ length }, () => next() & 0xff);
      const whole = crc32c(bytes);
      assert.equal(whole, referenceCrc32c(bytes), `length ${length}`);
      const split = length === 0 ? 0 : next() % length;
      const parts = crc32cUpdate(crc32cUpdate(0, bytes.subarray(0, split)), bytes.subarray(split));
      assert.equal(parts, whole, `length ${length} split ${split}`);
    }
  });

  it("crc32c() works on a view into a larger buffer", () => {
    const buffer = new Uint8Array(20);
    buffer.set(new TextEncoder().encode("123456789"), 7);
    assert.equal(crc32c(buffer.subarray(7, 16)), 0xe3069283);
  });
});
