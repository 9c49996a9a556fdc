/**
 * Collects the bytes of one memberlist TCP exchange, bounded, until they hold a whole message:
 * plaintext (parsed with `readStream`) or an encrypted envelope (`[0x0a][uint32 length][blob]`,
 * handed back for the shell to decrypt). gossip-wire.md §7. Private to `src/agent/gossip`.
 *
 * @module
 */

import {
  concatBytes,
  decodeStreamEncryptionHeader,
  MessageType,
  readStream,
  streamEncryptionHeaderBytes,
  type StreamMessage,
} from "../../core/wire/mod.ts";

/** What the bytes so far hold. */
export type StreamFrame =
  | { kind: "more" }
  | { kind: "message"; message: StreamMessage }
  | { kind: "sealed"; header: Uint8Array; blob: Uint8Array };

/** Accumulates stream bytes up to a limit and finds the first message in them. */
export class StreamReader {
  readonly #bytesMax: number;
  readonly #encrypted: boolean;
  #chunks: Uint8Array[] = [];
  #length = 0;
  #bytes: Uint8Array = new Uint8Array(0);

  /**
   * @param options `bytesMax`: the most bytes kept; `encrypted`: whether a keyring is set (then
   *   only encrypted streams are accepted, as memberlist with GossipVerifyIncoming)
   */
  constructor(options: { bytesMax: number; encrypted: boolean }) {
    this.#bytesMax = options.bytesMax;
    this.#encrypted = options.encrypted;
  }

  /**
   * Adds received bytes and looks for a whole message.
   *
   * @throws SyntaxError when the bytes cannot start a message, or exceed the limit
   */
  push(chunk: Uint8Array): StreamFrame {
    if (this.#length + chunk.length > this.#bytesMax) {
      throw new SyntaxError(
        `Cannot read stream: more than ${this.#bytesMax} bytes without a whole message`,
      );
    }
    this.#chunks.push(chunk.slice());
    this.#length += chunk.length;
    return this.#frame();
  }

  #frame(): StreamFrame {
    if (this.#chunks.length > 0) {
      this.#bytes = concatBytes([this.#bytes, ...this.#chunks]);
      this.#chunks = [];
    }
    const bytes = this.#bytes;
    if (bytes.length === 0) return { kind: "more" };
    const sealed = bytes[0] === MessageType.encrypt;
    if (this.#encrypted && !sealed) {
      throw new SyntaxError("Cannot read stream: remote state is not encrypted");
    }
    if (!this.#encrypted && sealed) {
      throw new SyntaxError(
        "Cannot read stream: remote state is encrypted and encryption is not configured",
      );
    }
    if (!sealed) {
      const read = readStream(bytes);
      return read === undefined ? { kind: "more" } : { kind: "message", message: read.message };
    }
    if (bytes.length < streamEncryptionHeaderBytes) return { kind: "more" };
    const blobLength = decodeStreamEncryptionHeader(bytes);
    if (streamEncryptionHeaderBytes + blobLength > this.#bytesMax) {
      throw new SyntaxError(`Cannot read stream: ${blobLength} bytes exceed the limit`);
    }
    const end = streamEncryptionHeaderBytes + blobLength;
    if (bytes.length < end) return { kind: "more" };
    return {
      kind: "sealed",
      header: bytes.slice(0, streamEncryptionHeaderBytes),
      blob: bytes.slice(streamEncryptionHeaderBytes, end),
    };
  }
}

/**
 * Reads the message inside a decrypted stream envelope, which must be whole.
 *
 * @throws SyntaxError when it is malformed or incomplete
 */
export function readOpenedStream(plaintext: Uint8Array): StreamMessage {
  const read = readStream(plaintext);
  if (read === undefined) throw new SyntaxError("Cannot read stream: the envelope is truncated");
  return read.message;
}
