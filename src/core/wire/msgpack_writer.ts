/**
 * A msgpack writer that produces the exact bytes HashiCorp's go-msgpack 0.5.5 writes
 * (`codec/msgpack.go` `msgpackEncDriver`), so that messages re-encode byte for byte.
 *
 * Go's choices, which a general msgpack encoder does not make (gossip-wire.md §2):
 * strings and `[]byte` both use the old raw family (fixstr, str16, str32, never str8 or bin);
 * non-negative integers always use the smallest unsigned form; floats are always float64.
 *
 * @module
 */

import { assert } from "../assert.ts";

/** Bytes one encoded message may take; far above any gossip message (memberlist's 20 MiB stream cap). */
export const encodedBytesMax = 20 * 1024 * 1024;

const initialCapacityBytes = 256;
const utf8 = new TextEncoder();

/** Appends msgpack values to a growing buffer, in go-msgpack's formats. */
export class MsgpackWriter {
  #bytes: Uint8Array = new Uint8Array(initialCapacityBytes);
  #view: DataView = new DataView(this.#bytes.buffer);
  #length = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  /** Returns a copy of the bytes written so far. */
  finish(): Uint8Array {
    return this.#bytes.slice(0, this.#length);
  }

  /** Writes one raw byte (a message type byte, not a msgpack value). */
  writeByte(value: number): void {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xff, "Cannot write byte: not 0..255");
    this.#reserve(1);
    this.#bytes[this.#length++] = value;
  }

  /** Writes raw bytes as they are (not a msgpack value). */
  writeVerbatim(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#bytes.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /** Writes msgpack nil (`0xc0`), as Go does for a nil slice or pointer. */
  writeNil(): void {
    this.writeByte(0xc0);
  }

  /** Writes `0xc3` or `0xc2`. */
  writeBool(value: boolean): void {
    this.writeByte(value ? 0xc3 : 0xc2);
  }

  /** Writes a non-negative integer in its smallest unsigned form (go-msgpack `encodeUint`). */
  writeUint(value: number): void {
    assert(Number.isSafeInteger(value) && value >= 0, `Cannot write uint: "${value}" is not one`);
    if (value <= 0x7f) return this.writeByte(value);
    this.#reserve(9);
    const at = this.#length;
    if (value <= 0xff) {
      this.#bytes[at] = 0xcc;
      this.#bytes[at + 1] = value;
      this.#length += 2;
    } else if (value <= 0xffff) {
      this.#bytes[at] = 0xcd;
      this.#view.setUint16(at + 1, value);
      this.#length += 3;
    } else if (value <= 0xffff_ffff) {
      this.#bytes[at] = 0xce;
      this.#view.setUint32(at + 1, value);
      this.#length += 5;
    } else {
      this.#bytes[at] = 0xcf;
      this.#view.setUint32(at + 1, Math.floor(value / 0x1_0000_0000));
      this.#view.setUint32(at + 5, value >>> 0);
      this.#length += 9;
    }
  }

  /** Writes a signed integer: unsigned forms when >= 0, else the smallest signed form (go-msgpack `encodeInt`). */
  writeInt(value: number): void {
    assert(Number.isSafeInteger(value), `Cannot write int: "${value}" is not a safe integer`);
    if (value >= 0) return this.writeUint(value);
    if (value >= -32) return this.writeByte(value & 0xff);
    this.#reserve(9);
    const at = this.#length;
    if (value >= -0x80) {
      this.#bytes[at] = 0xd0;
      this.#view.setInt8(at + 1, value);
      this.#length += 2;
    } else if (value >= -0x8000) {
      this.#bytes[at] = 0xd1;
      this.#view.setInt16(at + 1, value);
      this.#length += 3;
    } else if (value >= -0x8000_0000) {
      this.#bytes[at] = 0xd2;
      this.#view.setInt32(at + 1, value);
      this.#length += 5;
    } else {
      this.#bytes[at] = 0xd3;
      this.#view.setBigInt64(at + 1, BigInt(value));
      this.#length += 9;
    }
  }

  /** Writes a float64 (`0xcb`), as Go does for every `float64` field. */
  writeFloat64(value: number): void {
    this.#reserve(9);
    this.#bytes[this.#length] = 0xcb;
    this.#view.setFloat64(this.#length + 1, value);
    this.#length += 9;
  }

  /** Writes a Go `string`: UTF-8 bytes in the raw family. */
  writeString(value: string): void {
    this.writeRaw(utf8.encode(value));
  }

  /** Writes a Go `[]byte` (or string bytes) as fixstr / str16 / str32, never str8 or bin. */
  writeRaw(bytes: Uint8Array): void {
    const length = bytes.length;
    if (length < 32) {
      this.writeByte(0xa0 | length);
    } else {
      this.#writeHeader(0xda, 0xdb, length);
    }
    this.writeVerbatim(bytes);
  }

  /** Writes an array header for `count` items (fixarray, array16, array32). */
  writeArrayHeader(count: number): void {
    if (count < 16) return this.writeByte(0x90 | count);
    this.#writeHeader(0xdc, 0xdd, count);
  }

  /** Writes a map header for `count` pairs (fixmap, map16, map32). */
  writeMapHeader(count: number): void {
    if (count < 16) return this.writeByte(0x80 | count);
    this.#writeHeader(0xde, 0xdf, count);
  }

  #writeHeader(format16: number, format32: number, count: number): void {
    assert(Number.isSafeInteger(count) && count >= 0, "Cannot write header: bad count");
    this.#reserve(5);
    const at = this.#length;
    if (count <= 0xffff) {
      this.#bytes[at] = format16;
      this.#view.setUint16(at + 1, count);
      this.#length += 3;
    } else {
      assert(count <= 0xffff_ffff, "Cannot write header: count exceeds uint32");
      this.#bytes[at] = format32;
      this.#view.setUint32(at + 1, count);
      this.#length += 5;
    }
  }

  #reserve(extraBytes: number): void {
    const needed = this.#length + extraBytes;
    if (needed <= this.#bytes.length) return;
    assert(needed <= encodedBytesMax, `Cannot encode: message exceeds ${encodedBytesMax} bytes`);
    let capacity = this.#bytes.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(Math.min(capacity, encodedBytesMax));
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }
}
