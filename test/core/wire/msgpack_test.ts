// Goal: the msgpack writer emits exactly go-msgpack 0.5.5's formats, and the reader accepts what
// go-msgpack's decoder accepts and refuses the rest with a SyntaxError. Method: boundary cases
// of every format family against hand-written bytes (gossip-wire.md §2), then fast-check: values
// our writer writes are read back unchanged by an independent decoder (@msgpack/msgpack) and by
// ours, and what @msgpack/msgpack writes (str8, bin, other int widths) our reader still accepts.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decode as referenceDecode, encode as referenceEncode } from "@msgpack/msgpack";
import {
  MsgpackReader,
  MsgpackWriter,
  nestingDepthMax,
  TruncatedInputError,
} from "../../../src/core/wire/mod.ts";
import { fromHex, toHex } from "./_vectors.ts";

function written(write: (writer: MsgpackWriter) => void): string {
  const writer = new MsgpackWriter();
  write(writer);
  return toHex(writer.finish());
}

test("MsgpackWriter.writeUint() picks the smallest unsigned form, as go-msgpack encodeUint", () => {
  const cases: Array<[number, string]> = [
    [0, "00"],
    [127, "7f"],
    [128, "cc80"],
    [255, "ccff"],
    [256, "cd0100"],
    [65535, "cdffff"],
    [65536, "ce00010000"],
    [3_000_000_000, "ceb2d05e00"],
    [0xffff_ffff, "ceffffffff"],
    [0x1_0000_0000, "cf0000000100000000"],
    [Number.MAX_SAFE_INTEGER, "cf001fffffffffffff"],
  ];
  for (const [value, hex] of cases) assert.equal(written((w) => w.writeUint(value)), hex);
});

test("MsgpackWriter.writeInt() writes negatives in the smallest signed form", () => {
  const cases: Array<[number, string]> = [
    [5, "05"],
    [-1, "ff"],
    [-32, "e0"],
    [-33, "d0df"],
    [-128, "d080"],
    [-129, "d1ff7f"],
    [-32768, "d18000"],
    [-32769, "d2ffff7fff"],
    [-0x8000_0001, "d3ffffffff7fffffff"],
  ];
  for (const [value, hex] of cases) assert.equal(written((w) => w.writeInt(value)), hex);
});

test("MsgpackWriter.writeRaw() uses fixstr then str16, never str8 or bin, as Go does", () => {
  assert.equal(written((w) => w.writeRaw(new Uint8Array(0))), "a0");
  assert.equal(written((w) => w.writeRaw(new Uint8Array(31))).slice(0, 2), "bf");
  assert.equal(written((w) => w.writeRaw(new Uint8Array(32))).slice(0, 6), "da0020");
  assert.equal(written((w) => w.writeRaw(new Uint8Array(255))).slice(0, 6), "da00ff");
  assert.equal(written((w) => w.writeRaw(new Uint8Array(65535))).slice(0, 6), "daffff");
  assert.equal(written((w) => w.writeRaw(new Uint8Array(65536))).slice(0, 10), "db00010000");
  assert.equal(written((w) => w.writeString("é")), "a2c3a9");
});

test("MsgpackWriter writes nil, bools, float64 and container headers as Go does", () => {
  assert.equal(written((w) => w.writeNil()), "c0");
  assert.equal(written((w) => w.writeBool(true)), "c3");
  assert.equal(written((w) => w.writeBool(false)), "c2");
  assert.equal(written((w) => w.writeFloat64(1.5)), "cb3ff8000000000000");
  assert.equal(written((w) => w.writeFloat64(0)), "cb0000000000000000");
  assert.equal(written((w) => w.writeArrayHeader(15)), "9f");
  assert.equal(written((w) => w.writeArrayHeader(512)), "dc0200");
  assert.equal(written((w) => w.writeArrayHeader(65536)), "dd00010000");
  assert.equal(written((w) => w.writeMapHeader(15)), "8f");
  assert.equal(written((w) => w.writeMapHeader(16)), "de0010");
});

test("MsgpackReader accepts every integer form Go accepts, within bounds", () => {
  const read = (hex: string, max = Number.MAX_SAFE_INTEGER) =>
    new MsgpackReader(fromHex(hex)).readUint(max);
  assert.equal(read("05"), 5);
  assert.equal(read("cc05"), 5);
  assert.equal(read("d005"), 5);
  assert.equal(read("d30000000000000005"), 5);
  assert.equal(read("cf001fffffffffffff"), Number.MAX_SAFE_INTEGER);
  assert.throws(() => read("cf0020000000000000"), SyntaxError); // 2^53: not a safe integer
  assert.throws(() => read("ff"), SyntaxError); // -1 into an unsigned field
  assert.throws(() => read("cd0100", 255), SyntaxError); // 256 into a uint8
  assert.throws(() => read("cb3ff0000000000000"), SyntaxError); // a float into an int field
  assert.equal(new MsgpackReader(fromHex("05")).readFloat(), 5); // an int into a float field
  assert.equal(new MsgpackReader(fromHex("ca3fc00000")).readFloat(), 1.5);
  assert.equal(new MsgpackReader(fromHex("01")).readBool(), true);
  assert.throws(() => new MsgpackReader(fromHex("02")).readBool(), SyntaxError);
});

test("MsgpackReader takes bin for []byte but only str for Go strings", () => {
  assert.deepStrictEqual(new MsgpackReader(fromHex("c4026869")).readBytes(), fromHex("6869"));
  assert.deepStrictEqual(new MsgpackReader(fromHex("d9026869")).readBytes(), fromHex("6869"));
  assert.equal(new MsgpackReader(fromHex("d9026869")).readString(), "hi");
  assert.throws(() => new MsgpackReader(fromHex("c4026869")).readString(), SyntaxError);
  assert.throws(() => new MsgpackReader(fromHex("a1ff")).readString(), SyntaxError); // not UTF-8
});

test("MsgpackReader reports running out of input as TruncatedInputError", () => {
  for (const hex of ["", "cd01", "a3616263".slice(0, 6), "da00", "93", "cb3ff0", "de0003"]) {
    const reader = new MsgpackReader(fromHex(hex));
    assert.throws(() => reader.skip(), TruncatedInputError, hex);
  }
});

test("MsgpackReader.skip() refuses nesting deeper than nestingDepthMax", () => {
  const deep = new Uint8Array(nestingDepthMax + 1).fill(0x91);
  assert.throws(() => new MsgpackReader(deep).skip(), SyntaxError);
  const shallow = new Uint8Array(nestingDepthMax).fill(0x91);
  const reader = new MsgpackReader(Uint8Array.of(...shallow.subarray(1), 0xc0));
  reader.skip();
  assert.equal(reader.remaining, 0);
});

/** A JSON-ish value built from the types our writer writes. */
type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

function writeValue(writer: MsgpackWriter, value: Value): void {
  if (value === null) writer.writeNil();
  else if (typeof value === "boolean") writer.writeBool(value);
  else if (typeof value === "number") {
    if (Number.isSafeInteger(value)) writer.writeInt(value);
    else writer.writeFloat64(value);
  } else if (typeof value === "string") writer.writeString(value);
  else if (Array.isArray(value)) {
    writer.writeArrayHeader(value.length);
    for (const item of value) writeValue(writer, item);
  } else {
    const entries = Object.entries(value);
    writer.writeMapHeader(entries.length);
    for (const [key, item] of entries) {
      writer.writeString(key);
      writeValue(writer, item);
    }
  }
}

const valueArbitrary: fc.Arbitrary<Value> = fc.letrec<{ value: Value }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true }).filter((x) => !Number.isSafeInteger(x) && !Object.is(x, -0)),
    fc.string({ unit: "grapheme", maxLength: 80 }),
    fc.array(tie("value"), { maxLength: 20 }),
    // The reference decoder refuses a "__proto__" key, so the generator never makes one.
    fc.dictionary(fc.string({ maxLength: 40 }).filter((key) => key !== "__proto__"), tie("value"), {
      maxKeys: 18,
      noNullPrototype: true,
    }),
  ),
})).value;

test("values MsgpackWriter writes read back unchanged with @msgpack/msgpack", () => {
  fc.assert(
    fc.property(valueArbitrary, (value) => {
      const writer = new MsgpackWriter();
      writeValue(writer, value);
      const bytes = writer.finish();
      assert.deepStrictEqual(referenceDecode(bytes, { useBigInt64: false }), value);
      const reader = new MsgpackReader(bytes);
      reader.skip();
      assert.equal(reader.remaining, 0);
    }),
    { numRuns: 500 },
  );
});

test("MsgpackReader reads strings and bytes as @msgpack/msgpack writes them (str8, bin)", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: "grapheme", maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.maxSafeInteger(),
      (text, bytes, integer) => {
        const encoded = referenceEncode([text, bytes, integer]);
        const reader = new MsgpackReader(encoded);
        assert.equal(reader.readArrayHeader(), 3);
        assert.equal(reader.readString(), text);
        assert.deepStrictEqual(reader.readBytes(), bytes);
        assert.equal(reader.readInt(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), integer);
        assert.equal(reader.remaining, 0);
      },
    ),
    { numRuns: 300 },
  );
});
