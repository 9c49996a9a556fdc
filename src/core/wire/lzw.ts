/**
 * LZW exactly as Go's `compress/lzw` (Go 1.19 `reader.go`, `writer.go`) with LSB bit order and
 * literal width 8, which memberlist uses for its `compress` wrapper (gossip-wire.md §5.3).
 *
 * Codes 0-255 are literals, 256 clears, 257 ends the data, new entries start at 258. Codes start
 * 9 bits wide and widen when the next code reaches 512, 1024, 2048; the writer emits a clear and
 * starts over when its next code would be 4095. Go 1.19's writer begins every stream with a clear
 * code, and so does {@link lzwCompress}, which makes its output byte-identical to serf's.
 *
 * @module
 */

/** Bytes a decompression may produce; memberlist's stream cap (20 MiB) bounds LZW's up-to-4096x growth. */
export const decompressedBytesMax = 20 * 1024 * 1024;

const literalWidth = 8;
const clearCode = 1 << literalWidth; // 256
const endCode = clearCode + 1; // 257
const codeMax = (1 << 12) - 1; // 4095
const widthMax = 12;
const noCode = -1;

/** Packs codes LSB-first, as Go's `writeLSB`. */
class BitWriter {
  #bytes: number[] = [];
  #bits = 0;
  #bitCount = 0;

  write(code: number, width: number): void {
    this.#bits |= code << this.#bitCount;
    this.#bitCount += width;
    while (this.#bitCount >= 8) {
      this.#bytes.push(this.#bits & 0xff);
      this.#bits >>>= 8;
      this.#bitCount -= 8;
    }
  }

  finish(): Uint8Array {
    if (this.#bitCount > 0) this.#bytes.push(this.#bits & 0xff);
    return Uint8Array.from(this.#bytes);
  }
}

/**
 * Compresses `input` as Go 1.19's `lzw.NewWriter(w, lzw.LSB, 8)` followed by `Close()`.
 *
 * @example
 * ```ts
 * lzwDecompress(lzwCompress(bytes)); // equal to bytes
 * ```
 */
export function lzwCompress(input: Uint8Array): Uint8Array {
  const out = new BitWriter();
  // Go's table maps (prefix code << 8 | byte) to a code; a Map is the same mapping.
  const table = new Map<number, number>();
  let width = literalWidth + 1;
  let next = endCode; // Go's `hi`: the last code assigned.
  let overflow = 1 << width;
  out.write(clearCode, width); // Go 1.19 opens every stream with a clear code.
  if (input.length === 0) {
    out.write(endCode, width);
    return out.finish();
  }
  let code = input[0];
  for (let i = 1; i < input.length; i += 1) {
    const key = (code << 8) | input[i];
    const known = table.get(key);
    if (known !== undefined) {
      code = known;
      continue;
    }
    out.write(code, width);
    code = input[i];
    next += 1;
    if (next === overflow) {
      width += 1;
      overflow <<= 1;
    }
    if (next === codeMax) {
      // Out of codes: clear (at the current width) and start a fresh table, as Go's `incHi`.
      out.write(clearCode, width);
      width = literalWidth + 1;
      next = endCode;
      overflow = clearCode << 1;
      table.clear();
      continue;
    }
    table.set(key, next);
  }
  out.write(code, width);
  next += 1;
  if (next === overflow) width += 1;
  if (next === codeMax) {
    out.write(clearCode, width);
    width = literalWidth + 1;
  }
  out.write(endCode, width);
  return out.finish();
}

/**
 * Decompresses a Go `compress/lzw` stream (LSB, literal width 8), with or without a leading
 * clear code. The stream must end with the end code: Go reports `io.ErrUnexpectedEOF`
 * otherwise, and memberlist drops the message. Bytes after the end code are ignored.
 *
 * @param input the compressed bytes
 * @param outputBytesMax the most bytes to produce; more is a `SyntaxError`
 * @throws SyntaxError on an invalid code, a missing end code or too much output
 */
export function lzwDecompress(
  input: Uint8Array,
  outputBytesMax: number = decompressedBytesMax,
): Uint8Array {
  const state = new LzwDecoder(input, outputBytesMax);
  return state.run();
}

class LzwDecoder {
  readonly #input: Uint8Array;
  readonly #outputBytesMax: number;
  #inputOffset = 0;
  #bits = 0;
  #bitCount = 0;
  #width = literalWidth + 1;
  #next = endCode; // Go's `hi`.
  #overflow = 1 << (literalWidth + 1);
  #last = noCode;
  readonly #prefix = new Uint16Array(1 << widthMax);
  readonly #suffix = new Uint8Array(1 << widthMax);
  readonly #scratch = new Uint8Array(1 << widthMax);
  #output = new Uint8Array(256);
  #outputLength = 0;

  constructor(input: Uint8Array, outputBytesMax: number) {
    this.#input = input;
    this.#outputBytesMax = outputBytesMax;
  }

  run(): Uint8Array {
    for (;;) {
      const code = this.#readCode();
      if (code === clearCode) {
        this.#width = literalWidth + 1;
        this.#next = endCode;
        this.#overflow = 1 << this.#width;
        this.#last = noCode;
        continue;
      }
      if (code === endCode) return this.#output.slice(0, this.#outputLength);
      this.#expand(code);
      this.#last = code;
      this.#next += 1;
      if (this.#next >= this.#overflow) {
        if (this.#width === widthMax) {
          // Go keeps `hi` below `overflow` and stops adding entries until the next clear.
          this.#last = noCode;
          this.#next -= 1;
        } else {
          this.#width += 1;
          this.#overflow = 1 << this.#width;
        }
      }
    }
  }

  /** Emits the bytes of `code` and records the new table entry, as Go's `decode` switch. */
  #expand(code: number): void {
    if (code < clearCode) {
      this.#emit(this.#scratch.subarray(0, 1).fill(code));
      if (this.#last !== noCode) this.#record(code);
      return;
    }
    if (code > this.#next) throw new SyntaxError(`Cannot decompress LZW: invalid code "${code}"`);
    let at = this.#scratch.length - 1;
    let c = code;
    if (code === this.#next) {
      // KwKwK: the code being defined is the last expansion plus its own first byte.
      if (this.#last === noCode) {
        throw new SyntaxError(`Cannot decompress LZW: code "${code}" has no prefix`);
      }
      c = this.#last;
      while (c >= clearCode) c = this.#prefix[c];
      this.#scratch[at--] = c;
      c = this.#last;
    }
    while (c >= clearCode) {
      this.#scratch[at--] = this.#suffix[c];
      c = this.#prefix[c];
    }
    this.#scratch[at] = c;
    this.#emit(this.#scratch.subarray(at));
    if (this.#last !== noCode) this.#record(c);
  }

  #record(firstByte: number): void {
    this.#suffix[this.#next] = firstByte;
    this.#prefix[this.#next] = this.#last;
  }

  #emit(bytes: Uint8Array): void {
    const needed = this.#outputLength + bytes.length;
    if (needed > this.#outputBytesMax) {
      throw new SyntaxError(`Cannot decompress LZW: output exceeds ${this.#outputBytesMax} bytes`);
    }
    if (needed > this.#output.length) {
      const grown = new Uint8Array(
        Math.min(Math.max(needed, this.#output.length * 2), this.#outputBytesMax),
      );
      grown.set(this.#output.subarray(0, this.#outputLength));
      this.#output = grown;
    }
    this.#output.set(bytes, this.#outputLength);
    this.#outputLength = needed;
  }

  #readCode(): number {
    while (this.#bitCount < this.#width) {
      if (this.#inputOffset >= this.#input.length) {
        throw new SyntaxError("Cannot decompress LZW: the stream ends before its end code");
      }
      this.#bits |= this.#input[this.#inputOffset++] << this.#bitCount;
      this.#bitCount += 8;
    }
    const code = this.#bits & ((1 << this.#width) - 1);
    this.#bits >>>= this.#width;
    this.#bitCount -= this.#width;
    return code;
  }
}
