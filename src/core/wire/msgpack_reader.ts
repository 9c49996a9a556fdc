/**
 * A msgpack reader that accepts what HashiCorp's go-msgpack 0.5.5 decoder accepts
 * (`codec/msgpack.go`, `codec/decode.go`; gossip-wire.md §2) and nothing that would crash us.
 *
 * Every failure is a `SyntaxError` whose message starts with "Cannot decode"; running out of
 * input is the subclass {@link TruncatedInputError}, so a stream reader can wait for more bytes.
 *
 * @module
 */

/** Nesting a skipped value may have; gossip messages nest at most 4 deep. */
export const nestingDepthMax = 32;

/** Thrown when the input ends in the middle of a value: more bytes may complete it. */
export class TruncatedInputError extends SyntaxError {
  override name = "TruncatedInputError";
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Reads msgpack values one after another from a byte array. */
export class MsgpackReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset: number;

  /**
   * @param bytes the input; never modified, and decoded byte fields are copies
   * @param offset where the first value starts
   */
  constructor(bytes: Uint8Array, offset = 0) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#offset = offset;
  }

  /** Offset of the next unread byte. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  /** Reads `count` raw bytes (not a msgpack value) as a copy. */
  readVerbatim(count: number): Uint8Array {
    this.#need(count);
    const bytes = this.#bytes.slice(this.#offset, this.#offset + count);
    this.#offset += count;
    return bytes;
  }

  /** Consumes a nil (`0xc0`) and returns true, or returns false and consumes nothing. */
  readNil(): boolean {
    this.#need(1);
    if (this.#bytes[this.#offset] !== 0xc0) return false;
    this.#offset += 1;
    return true;
  }

  /** Reads a bool: `0xc2`/`0xc3`, or positive fixint 0/1 as go-msgpack allows. */
  readBool(): boolean {
    const format = this.#byte();
    if (format === 0xc3 || format === 0x01) return true;
    if (format === 0xc2 || format === 0x00) return false;
    throw formatError("bool", format);
  }

  /** Reads a non-negative integer no greater than `max` (any integer format, as Go allows). */
  readUint(max: number): number {
    const value = this.#readInteger();
    if (value < 0 || value > max) {
      throw new SyntaxError(`Cannot decode uint: "${value}" is outside 0..${max}`);
    }
    return value;
  }

  /** Reads an integer within `min..max` (any integer format). */
  readInt(min: number, max: number): number {
    const value = this.#readInteger();
    if (value < min || value > max) {
      throw new SyntaxError(`Cannot decode int: "${value}" is outside ${min}..${max}`);
    }
    return value;
  }

  /** Reads a float64 field: float32, float64 or any integer, as go-msgpack allows. */
  readFloat(): number {
    const format = this.#peek();
    if (format === 0xcb) {
      this.#need(9);
      const value = this.#view.getFloat64(this.#offset + 1);
      this.#offset += 9;
      return value;
    }
    if (format === 0xca) {
      this.#need(5);
      const value = this.#view.getFloat32(this.#offset + 1);
      this.#offset += 5;
      return value;
    }
    return this.#readInteger();
  }

  /** Reads a Go `[]byte`: raw/str family or bin family; returns a copy. */
  readBytes(): Uint8Array {
    const format = this.#peek();
    if (format >= 0xc4 && format <= 0xc6) {
      this.#offset += 1;
      return this.readVerbatim(this.#readLength(format - 0xc4));
    }
    return this.readStringBytes();
  }

  /** Reads the bytes of a Go `string`: str family only (bin is rejected, as Go does). */
  readStringBytes(): Uint8Array {
    const format = this.#byte();
    if (format >= 0xa0 && format <= 0xbf) return this.readVerbatim(format & 0x1f);
    if (format >= 0xd9 && format <= 0xdb) return this.readVerbatim(this.#readLength(format - 0xd9));
    throw formatError("string", format);
  }

  /** Reads a Go `string` as text; invalid UTF-8 is a `SyntaxError`. */
  readString(): string {
    const bytes = this.readStringBytes();
    try {
      return utf8.decode(bytes);
    } catch {
      throw new SyntaxError("Cannot decode string: bytes are not UTF-8");
    }
  }

  /** Reads an array header and returns its item count (at most the bytes left). */
  readArrayHeader(): number {
    const format = this.#byte();
    let count: number;
    if (format >= 0x90 && format <= 0x9f) count = format & 0x0f;
    else if (format === 0xdc || format === 0xdd) count = this.#readLength(format - 0xdc + 1);
    else throw formatError("array", format);
    return this.#plausible(count, 1);
  }

  /** Reads a map header and returns its pair count (at most half the bytes left). */
  readMapHeader(): number {
    const format = this.#byte();
    let count: number;
    if (format >= 0x80 && format <= 0x8f) count = format & 0x0f;
    else if (format === 0xde || format === 0xdf) count = this.#readLength(format - 0xde + 1);
    else throw formatError("map", format);
    return this.#plausible(count, 2);
  }

  /** Skips one value of any type (unknown struct fields), nesting at most {@link nestingDepthMax}. */
  skip(depth = 0): void {
    if (depth >= nestingDepthMax) throw new SyntaxError("Cannot decode value: nested too deep");
    const format = this.#peek();
    if ((format >= 0x80 && format <= 0x8f) || format === 0xde || format === 0xdf) {
      const count = this.readMapHeader();
      for (let i = 0; i < count * 2; i += 1) this.skip(depth + 1);
    } else if ((format >= 0x90 && format <= 0x9f) || format === 0xdc || format === 0xdd) {
      const count = this.readArrayHeader();
      for (let i = 0; i < count; i += 1) this.skip(depth + 1);
    } else {
      this.#skipScalar(format);
    }
  }

  #skipScalar(format: number): void {
    if (format <= 0x7f || format >= 0xe0 || format === 0xc0 || format === 0xc2 || format === 0xc3) {
      this.#offset += 1;
    } else if ((format >= 0xa0 && format <= 0xbf) || (format >= 0xd9 && format <= 0xdb)) {
      this.readStringBytes();
    } else if (format >= 0xc4 && format <= 0xc6) {
      this.readBytes();
    } else if (format === 0xca || format === 0xcb) {
      this.readFloat();
    } else if ((format >= 0xcc && format <= 0xcf) || (format >= 0xd0 && format <= 0xd3)) {
      this.#readInteger();
    } else if (format >= 0xd4 && format <= 0xd8) {
      // fixext 1, 2, 4, 8, 16: type byte plus 2^n data bytes.
      this.#need(2 + (1 << (format - 0xd4)));
      this.#offset += 2 + (1 << (format - 0xd4));
    } else if (format >= 0xc7 && format <= 0xc9) {
      this.#offset += 1;
      const length = this.#readLength(format - 0xc7);
      this.readVerbatim(1 + length);
    } else {
      throw formatError("value", format);
    }
  }

  #readInteger(): number {
    const format = this.#byte();
    if (format <= 0x7f) return format;
    if (format >= 0xe0) return format - 0x100;
    if (format >= 0xcc && format <= 0xd3) this.#need(1 << ((format - 0xcc) & 3));
    const at = this.#offset;
    const view = this.#view;
    switch (format) {
      case 0xcc:
        return this.#advance(1, view.getUint8(at));
      case 0xcd:
        return this.#advance(2, view.getUint16(at));
      case 0xce:
        return this.#advance(4, view.getUint32(at));
      case 0xcf:
        return this.#advance(8, safe(view.getBigUint64(at)));
      case 0xd0:
        return this.#advance(1, view.getInt8(at));
      case 0xd1:
        return this.#advance(2, view.getInt16(at));
      case 0xd2:
        return this.#advance(4, view.getInt32(at));
      case 0xd3:
        return this.#advance(8, safe(view.getBigInt64(at)));
      default:
        throw formatError("integer", format);
    }
  }

  #advance(bytes: number, value: number): number {
    this.#offset += bytes;
    return value;
  }

  /** Reads an 8/16/32-bit big-endian length (`sizeLog` 0, 1, 2). */
  #readLength(sizeLog: number): number {
    const bytes = 1 << sizeLog;
    this.#need(bytes);
    const at = this.#offset;
    this.#offset += bytes;
    if (bytes === 1) return this.#view.getUint8(at);
    if (bytes === 2) return this.#view.getUint16(at);
    return this.#view.getUint32(at);
  }

  #plausible(count: number, bytesPerItem: number): number {
    // Every item takes at least one byte, so a count beyond the input is a lie or a truncation:
    // refusing it here keeps a hostile header from making us allocate or loop.
    if (count * bytesPerItem > this.remaining) {
      throw new TruncatedInputError(`Cannot decode container: ${count} items exceed the input`);
    }
    return count;
  }

  #peek(): number {
    this.#need(1);
    return this.#bytes[this.#offset];
  }

  #byte(): number {
    this.#need(1);
    return this.#bytes[this.#offset++];
  }

  #need(count: number): void {
    // Callers pass non-negative lengths read from the input; the comparison bounds them.
    if (this.#offset + count > this.#bytes.length) {
      throw new TruncatedInputError(`Cannot decode: input ends ${count} bytes short or less`);
    }
  }
}

function safe(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new SyntaxError(`Cannot decode integer: "${value}" is not a safe integer`);
  }
  return Number(value);
}

function formatError(expected: string, format: number): SyntaxError {
  return new SyntaxError(
    `Cannot decode ${expected}: format byte 0x${format.toString(16).padStart(2, "0")} is not one`,
  );
}
