// Goal: memberlist's framing works as its Go code does: compound split/join with the 255-part
// limit and truncation, the CRC32 wrapper, label headers, Go-compatible LZW (including the KwKwK
// case, code-width growth and the table reset at 4095), the UDP unwrapping order, and TCP stream
// reads that tell "need more bytes" from "corrupt". Method: known answers (CRC check value,
// memberlist's error cases), then fast-check round trips and every prefix of valid streams.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  addCrc,
  addLabel,
  compressMessage,
  crc32,
  decodeCompound,
  decompressMessage,
  encodeCompound,
  encodeCompounds,
  encodeMessage,
  encodePushPull,
  encodeUserStream,
  lzwCompress,
  lzwDecompress,
  readStream,
  removeCrc,
  removeLabel,
  unwrapPacket,
} from "../../../src/core/wire/mod.ts";
import { fromHex, toHex } from "./_vectors.ts";

const nack = (sequence: number) => encodeMessage({ type: "nack", sequence });

test("crc32() gives the CRC-32/IEEE check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

test("addCrc() and removeCrc() wrap and check; a flipped bit is a SyntaxError", () => {
  const wrapped = addCrc(nack(18));
  assert.equal(wrapped[0], 12);
  assert.deepStrictEqual(removeCrc(wrapped), nack(18));
  const corrupt = wrapped.slice();
  corrupt[corrupt.length - 1] ^= 1;
  assert.throws(() => removeCrc(corrupt), SyntaxError);
  assert.throws(() => unwrapPacket(corrupt), SyntaxError);
});

test("encodeCompound() and decodeCompound() follow makeCompoundMessage", () => {
  const parts = [nack(1), nack(2), new Uint8Array(0)];
  const compound = encodeCompound(parts);
  assert.equal(toHex(compound.subarray(0, 8)), "0703000900090000");
  assert.deepStrictEqual(decodeCompound(compound), { parts, truncatedPartCount: 0 });
  // A length that runs past the end truncates that part and the rest, as memberlist logs.
  const cut = compound.subarray(0, compound.length - 3);
  assert.deepStrictEqual(decodeCompound(cut), { parts: [nack(1)], truncatedPartCount: 2 });
  assert.throws(() => decodeCompound(fromHex("07")), SyntaxError);
  assert.throws(() => decodeCompound(fromHex("070300")), SyntaxError);
  assert.throws(() => encodeCompound(Array.from({ length: 256 }, () => nack(1))));
});

test("encodeCompounds() splits into groups of 255 parts", () => {
  const parts = Array.from({ length: 600 }, (_, i) => nack(i));
  const compounds = encodeCompounds(parts);
  assert.deepStrictEqual(compounds.map((c) => c[1]), [255, 255, 90]);
  assert.deepStrictEqual(compounds.flatMap((c) => unwrapPacket(c).parts), parts);
});

test("unwrapPacket() opens CRC, compression and nested compounds in memberlist's order", () => {
  const inner = encodeCompound([nack(1), compressMessage(encodeCompound([nack(2), nack(3)]))]);
  const packet = addCrc(compressMessage(inner));
  const unwrapped = unwrapPacket(packet);
  assert.equal(unwrapped.checkedCrc, true);
  assert.deepStrictEqual(unwrapped.parts, [nack(1), nack(2), nack(3)]);
  // A CRC wrapper is only honoured at the top, as ingestPacket does; inside it is a message.
  assert.deepStrictEqual(unwrapPacket(encodeCompound([addCrc(nack(1))])).parts, [addCrc(nack(1))]);
  let nested = nack(9);
  for (let i = 0; i < 20; i += 1) nested = encodeCompound([nested]);
  assert.throws(() => unwrapPacket(nested), SyntaxError);
});

test("addLabel() and removeLabel() follow memberlist 0.3's label header", () => {
  const label = new TextEncoder().encode("dc1");
  const labelled = addLabel(nack(1), label);
  assert.equal(toHex(labelled.subarray(0, 5)), "f403646331");
  assert.deepStrictEqual(removeLabel(labelled), { label, rest: nack(1) });
  assert.deepStrictEqual(addLabel(nack(1), new Uint8Array(0)), nack(1));
  assert.deepStrictEqual(removeLabel(nack(1)).rest, nack(1));
  assert.throws(() => removeLabel(fromHex("f400")), SyntaxError);
  assert.throws(() => removeLabel(fromHex("f40561")), SyntaxError);
});

test("lzwCompress() starts with a clear code and handles empty input as Go 1.19 does", () => {
  // Clear (256) then end (257), 9 bits each, LSB first: 0x100 | 0x101 << 9 = 0x20300.
  assert.equal(toHex(lzwCompress(new Uint8Array(0))), "000302");
  assert.deepStrictEqual(lzwDecompress(fromHex("000302")), new Uint8Array(0));
  // "aaaa" exercises the KwKwK case (a code used in the step that defines it).
  const aaaa = new TextEncoder().encode("aaaaaaaaaa");
  assert.deepStrictEqual(lzwDecompress(lzwCompress(aaaa)), aaaa);
});

test("lzwDecompress() refuses a missing end code, invalid codes and too much output", () => {
  const compressed = lzwCompress(new TextEncoder().encode("hello hello hello"));
  assert.throws(() => lzwDecompress(compressed.subarray(0, compressed.length - 2)), SyntaxError);
  assert.throws(() => lzwDecompress(fromHex("00fe03")), SyntaxError); // code 511 > next code
  const zeros = lzwCompress(new Uint8Array(100_000));
  assert.equal(lzwDecompress(zeros).length, 100_000);
  assert.throws(() => lzwDecompress(zeros, 99_999), SyntaxError);
});

test("lzwDecompress(lzwCompress(x)) is x, across width growth and table resets", () => {
  const lowEntropy = fc.array(fc.constantFrom(0, 1, 2, 97, 255), { maxLength: 3000 });
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 3000 }),
        lowEntropy.map((values) => Uint8Array.from(values)),
      ),
      (input) => {
        assert.deepStrictEqual(lzwDecompress(lzwCompress(input)), input);
      },
    ),
    { numRuns: 200 },
  );
  // 40 KB of noise needs far more than 4095 codes, so the writer clears and restarts.
  const noise = new Uint8Array(40_000).map((_, i) => (i * 2_654_435_761) >>> 24);
  assert.deepStrictEqual(lzwDecompress(lzwCompress(noise)), noise);
});

test("readStream() returns undefined for every proper prefix of a valid stream message", () => {
  const userState = fromHex("0286aa4576656e744c54696d6501");
  const node = {
    name: "b",
    address: fromHex("7f000003"),
    port: 7947,
    meta: fromHex("ff80"),
    incarnation: 1,
    state: 0,
    versions: fromHex("010502020505"),
  };
  const pushPull = encodePushPull({ join: true, nodes: [node, { ...node, name: "c" }], userState });
  for (
    const stream of [
      pushPull,
      encodeUserStream(fromHex("0182")),
      encodeMessage({ type: "ack", sequence: 16, payload: undefined }),
    ]
  ) {
    for (let length = 0; length < stream.length; length += 1) {
      assert.equal(readStream(stream.subarray(0, length)), undefined, `prefix ${length}`);
    }
    const read = readStream(Uint8Array.of(...stream, 0xff));
    assert.equal(read?.byteLength, stream.length);
  }
  const read = readStream(pushPull);
  assert.deepStrictEqual(read?.message, {
    type: "pushPull",
    join: true,
    nodes: [node, { ...node, name: "c" }],
    userState,
  });
  // Compressed streams are complete once the compress map is, and corrupt if the inside is short.
  const compressed = compressMessage(pushPull);
  for (let length = 0; length < compressed.length; length += 1) {
    assert.equal(readStream(compressed.subarray(0, length)), undefined);
  }
  assert.deepStrictEqual(readStream(compressed)?.message, read?.message);
  assert.throws(() => readStream(compressMessage(pushPull.subarray(0, 40))), SyntaxError);
  assert.deepStrictEqual(decompressMessage(compressed), pushPull);
});

test("readStream() refuses encrypted streams and non-stream message types", () => {
  assert.throws(() => readStream(fromHex("0a00000010")), SyntaxError);
  assert.throws(() => readStream(nack(1)), SyntaxError);
  assert.throws(() => readStream(compressMessage(new Uint8Array(0))), SyntaxError);
});
