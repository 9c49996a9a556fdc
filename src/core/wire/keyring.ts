/**
 * Memberlist's keyring (`keyring.go`) and the layout of its AES-GCM envelope (`security.go`,
 * gossip-wire.md §8) — everything about encryption except the AES-GCM call itself.
 *
 * Why the cipher is not here: the core must stay synchronous and deterministic, and WebCrypto's
 * AES-GCM (the one implementation shared by Deno, Bun and Node, native and constant-time) is
 * promise-based. A pure-TypeScript AES would be synchronous but table-driven, hence open to cache
 * timing attacks, and slower; a gossip key guards the whole cluster, so we keep vetted native
 * crypto. The core therefore prepares each operation as a plain request ({@link SealRequest},
 * {@link OpenRequest}) and finishes it from the shell's result; the shell makes the random nonce
 * and calls `crypto.subtle` in between. The decrypt → unwrap → decode chain stays pure.
 *
 * Envelope: `[version][nonce 12][ciphertext][tag 16]`. Version 1 seals the plaintext as it is;
 * version 0 (memberlist protocol 1) PKCS#7-pads it to 16 bytes first. UDP has no type byte and
 * no additional data in memberlist 0.2.2 (the label in 0.3+); TCP prefixes `[0x0a][uint32 BE
 * blob length]` and authenticates those 5 bytes (plus the label in 0.3+).
 *
 * @module
 */

import { assert } from "../assert.ts";
import { concatBytes } from "./codec.ts";
import { MessageType } from "./message_type.ts";
import { TruncatedInputError } from "./msgpack_reader.ts";

/** Highest envelope version understood (`maxEncryptionVersion`). */
export const encryptionVersionMax = 1;
/** Bytes of the GCM nonce. */
export const nonceBytes = 12;
/** Bytes of the GCM tag. */
export const tagBytes = 16;
/** Bytes of the stream encryption header: `0x0a` and a uint32 blob length. */
export const streamEncryptionHeaderBytes = 5;
/** Bytes an encrypted stream may declare (memberlist's `maxPushStateBytes`, 20 MiB). */
export const encryptedStreamBytesMax = 20 * 1024 * 1024;
/** Keys a keyring may hold. */
export const keyringKeysMax = 256;

const paddingBlockBytes = 16;
const versionBytes = 1;

/** Everything the shell needs for one AES-GCM seal (encrypt). */
export interface SealRequest {
  /** AES key, 16, 24 or 32 bytes: the keyring's primary key. */
  key: Uint8Array;
  /** 12-byte nonce, random per message (made by the shell). */
  nonce: Uint8Array;
  /** Bytes to seal (already padded for version 0). */
  plaintext: Uint8Array;
  /** GCM additional authenticated data. */
  additionalData: Uint8Array;
  /** Envelope version to write. */
  version: number;
}

/** Everything the shell needs to try AES-GCM open (decrypt) with each key in turn. */
export interface OpenRequest {
  /** Keys to try, primary first; the first that authenticates wins. */
  keys: readonly Uint8Array[];
  /** The 12-byte nonce from the envelope. */
  nonce: Uint8Array;
  /** Ciphertext followed by the 16-byte tag. */
  sealed: Uint8Array;
  /** GCM additional authenticated data. */
  additionalData: Uint8Array;
  /** Envelope version read. */
  version: number;
}

/**
 * Throws `RangeError` unless `key` is 16, 24 or 32 bytes (AES-128/192/256; memberlist
 * `ValidateKey`; `serf keygen` makes 32).
 */
export function validateKey(key: Uint8Array): void {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new RangeError(
      `Cannot use encryption key: it has ${key.length} bytes, and must have 16, 24 or 32`,
    );
  }
}

/** Memberlist's keyring: the primary key first (sends), every key tried on receipt. */
export class Keyring {
  #keys: Uint8Array[];

  /**
   * @param keys installed keys; each 16, 24 or 32 bytes
   * @param primaryKey the key to send with; defaults to the first of `keys`
   */
  constructor(keys: readonly Uint8Array[], primaryKey?: Uint8Array) {
    const primary = primaryKey ?? keys[0];
    if (primary === undefined) throw new RangeError("Cannot make keyring: no key given");
    for (const key of [primary, ...keys]) validateKey(key);
    this.#keys = ordered([primary, ...keys], primary);
    if (this.#keys.length > keyringKeysMax) {
      throw new RangeError(`Cannot make keyring: more than ${keyringKeysMax} keys`);
    }
  }

  /** The key used to encrypt. */
  get primaryKey(): Uint8Array {
    return this.#keys[0];
  }

  /** All keys, primary first. */
  get keys(): readonly Uint8Array[] {
    return this.#keys.slice();
  }

  /** Installs `key` (no-op when present), as `AddKey`; the primary key stays primary. */
  install(key: Uint8Array): void {
    validateKey(key);
    if (this.#indexOf(key) >= 0) return;
    if (this.#keys.length >= keyringKeysMax) {
      throw new RangeError(`Cannot install key: the keyring holds ${keyringKeysMax} keys already`);
    }
    this.#keys = [...this.#keys, key.slice()];
  }

  /** Makes an installed key primary, as `UseKey`. */
  use(key: Uint8Array): void {
    if (this.#indexOf(key) < 0) throw new RangeError("Cannot use key: it is not in the keyring");
    this.#keys = ordered(this.#keys, key);
  }

  /** Removes a key that is not primary (no-op when absent), as `RemoveKey`. */
  remove(key: Uint8Array): void {
    if (sameBytes(key, this.#keys[0])) {
      throw new RangeError("Cannot remove key: it is the primary key");
    }
    this.#keys = this.#keys.filter((installed) => !sameBytes(installed, key));
  }

  #indexOf(key: Uint8Array): number {
    return this.#keys.findIndex((installed) => sameBytes(installed, key));
  }
}

function ordered(keys: readonly Uint8Array[], primary: Uint8Array): Uint8Array[] {
  const result = [primary.slice()];
  for (const key of keys) {
    if (!result.some((kept) => sameBytes(kept, key))) result.push(key.slice());
  }
  return result;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Bytes the envelope adds at most (`encryptOverhead`): 29 for version 1, 45 for version 0. */
export function encryptionOverheadBytes(version: number): number {
  return version === 0 ? 45 : versionBytes + nonceBytes + tagBytes;
}

/** Bytes of the envelope for `plaintextBytes` of plaintext (`encryptedLength`). */
export function encryptedLength(version: number, plaintextBytes: number): number {
  if (version !== 0) return versionBytes + nonceBytes + plaintextBytes + tagBytes;
  const padding = paddingBlockBytes - (plaintextBytes % paddingBlockBytes);
  return versionBytes + nonceBytes + plaintextBytes + padding + tagBytes;
}

/**
 * Prepares sealing `plaintext` with the keyring's primary key.
 *
 * @param plaintext the packet, or the whole stream message
 * @param options `keyring`; `nonce` (12 random bytes); `version` (default 1); `additionalData`
 *   (UDP: the label or empty; TCP: {@link streamAdditionalData})
 */
export function prepareSeal(
  plaintext: Uint8Array,
  options: { keyring: Keyring; nonce: Uint8Array; version?: number; additionalData?: Uint8Array },
): SealRequest {
  const version = options.version ?? encryptionVersionMax;
  assert(version === 0 || version === 1, `Cannot seal: version "${version}" is unknown`);
  assert(options.nonce.length === nonceBytes, "Cannot seal: the nonce must have 12 bytes");
  return {
    key: options.keyring.primaryKey,
    nonce: options.nonce,
    plaintext: version === 0 ? padPkcs7(plaintext) : plaintext,
    additionalData: options.additionalData ?? new Uint8Array(0),
    version,
  };
}

/** Assembles the envelope `[version][nonce][sealed]` from the AES-GCM result (ciphertext + tag). */
export function finishSeal(request: SealRequest, sealed: Uint8Array): Uint8Array {
  return concatBytes([Uint8Array.of(request.version), request.nonce, sealed]);
}

/**
 * Parses an envelope for opening (`decryptPayload`).
 *
 * @param blob the encrypted packet (UDP) or the bytes after the stream header (TCP)
 * @param options `keyring`; `additionalData` as for sealing
 * @throws SyntaxError when empty, of an unknown version, or too short
 */
export function prepareOpen(
  blob: Uint8Array,
  options: { keyring: Keyring; additionalData?: Uint8Array },
): OpenRequest {
  if (blob.length === 0) throw new SyntaxError("Cannot decrypt: the payload is empty");
  const version = blob[0];
  if (version > encryptionVersionMax) {
    throw new SyntaxError(`Cannot decrypt: version "${version}" is unknown`);
  }
  if (blob.length < encryptedLength(version, 0)) {
    throw new SyntaxError(`Cannot decrypt: ${blob.length} bytes are too few`);
  }
  return {
    keys: options.keyring.keys,
    nonce: blob.slice(versionBytes, versionBytes + nonceBytes),
    sealed: blob.slice(versionBytes + nonceBytes),
    additionalData: options.additionalData ?? new Uint8Array(0),
    version,
  };
}

/**
 * Finishes opening: returns the plaintext, unpadded for version 0.
 *
 * @param request the request the shell opened
 * @param opened what AES-GCM open returned (authenticated plaintext)
 * @throws SyntaxError when version 0 padding is invalid
 */
export function finishOpen(request: OpenRequest, opened: Uint8Array): Uint8Array {
  return request.version === 0 ? unpadPkcs7(opened) : opened;
}

/** PKCS#7-pads to a multiple of 16 bytes (1-16 bytes of value = pad length), as `pkcs7encode`. */
export function padPkcs7(bytes: Uint8Array): Uint8Array {
  const padding = paddingBlockBytes - (bytes.length % paddingBlockBytes);
  const padded = new Uint8Array(bytes.length + padding);
  padded.set(bytes);
  padded.fill(padding, bytes.length);
  return padded;
}

/** Removes PKCS#7 padding; unlike Go's `pkcs7decode` it checks the pad instead of panicking. */
export function unpadPkcs7(bytes: Uint8Array): Uint8Array {
  const padding = bytes.length === 0 ? 0 : bytes[bytes.length - 1];
  if (padding < 1 || padding > paddingBlockBytes || padding > bytes.length) {
    throw new SyntaxError("Cannot decrypt: version 0 padding is invalid");
  }
  return bytes.slice(0, bytes.length - padding);
}

/** Encodes the stream encryption header `[0x0a][uint32 BE blob length]`. */
export function encodeStreamEncryptionHeader(blobLength: number): Uint8Array {
  assert(blobLength <= encryptedStreamBytesMax, "Cannot encrypt stream: it exceeds 20 MiB");
  const header = new Uint8Array(streamEncryptionHeaderBytes);
  header[0] = MessageType.encrypt;
  new DataView(header.buffer).setUint32(1, blobLength);
  return header;
}

/**
 * Reads the stream encryption header and returns the blob length that follows it.
 *
 * @throws TruncatedInputError (a `SyntaxError`) with fewer than 5 bytes; SyntaxError when it is
 *   not an encryption header or declares more than {@link encryptedStreamBytesMax}
 */
export function decodeStreamEncryptionHeader(bytes: Uint8Array): number {
  if (bytes.length > 0 && bytes[0] !== MessageType.encrypt) {
    throw new SyntaxError("Cannot decrypt stream: remote state is not encrypted");
  }
  if (bytes.length < streamEncryptionHeaderBytes) {
    throw new TruncatedInputError("Cannot decrypt stream: the header is incomplete");
  }
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(1);
  if (length > encryptedStreamBytesMax) {
    throw new SyntaxError(`Cannot decrypt stream: ${length} bytes exceed the 20 MiB limit`);
  }
  return length;
}

/** Stream AAD: the 5-byte header, then the label (memberlist >= 0.3; empty for serf 0.9.4). */
export function streamAdditionalData(header: Uint8Array, label?: Uint8Array): Uint8Array {
  return concatBytes([header.subarray(0, streamEncryptionHeaderBytes), label ?? new Uint8Array(0)]);
}
