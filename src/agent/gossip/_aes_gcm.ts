/**
 * The AES-GCM calls of memberlist's encryption, on WebCrypto (native and constant-time on Deno,
 * Bun and Node). The envelope layout, keyring and checks are the wire core's
 * (`src/core/wire/keyring.ts`: `prepareSeal → encrypt → finishSeal`, `prepareOpen → try each
 * key → finishOpen`); this file only runs the cipher. Private to `src/agent/gossip`.
 *
 * @module
 */

import {
  finishOpen,
  finishSeal,
  type Keyring,
  nonceBytes,
  prepareOpen,
  prepareSeal,
} from "../../core/wire/mod.ts";

/** WebCrypto's key object, named without the DOM lib (the npm build compiles with Node's types). */
type AesKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

/** Seals and opens memberlist envelopes with a keyring's keys. */
export class AesGcm {
  readonly #keyring: Keyring;
  readonly #randomBytes: (bytes: Uint8Array) => Uint8Array;
  readonly #imported = new WeakMap<Uint8Array, Promise<AesKey>>();

  /**
   * @param keyring the keys: the primary seals, every key is tried to open
   * @param randomBytes a cryptographically strong source, for the nonces
   */
  constructor(keyring: Keyring, randomBytes: (bytes: Uint8Array) => Uint8Array) {
    this.#keyring = keyring;
    this.#randomBytes = randomBytes;
  }

  /** The keyring, shared: keys installed, used or removed on it take effect at once. */
  get keyring(): Keyring {
    return this.#keyring;
  }

  /**
   * Seals `plaintext` with the primary key (envelope version 1).
   *
   * @param plaintext the packet or the stream message
   * @param additionalData GCM additional data: empty for UDP, the 5-byte header for TCP
   * @returns `[version][nonce][ciphertext][tag]`
   */
  async seal(plaintext: Uint8Array, additionalData: Uint8Array): Promise<Uint8Array> {
    const nonce = this.#randomBytes(new Uint8Array(nonceBytes));
    const request = prepareSeal(plaintext, { keyring: this.#keyring, nonce, additionalData });
    const key = await this.#import(request.key);
    const sealed = await crypto.subtle.encrypt(
      {
        name: "AES-GCM",
        iv: buffer(request.nonce),
        additionalData: buffer(request.additionalData),
        tagLength: 128,
      },
      key,
      buffer(request.plaintext),
    );
    return finishSeal(request, new Uint8Array(sealed));
  }

  /**
   * Opens an envelope with the first installed key that authenticates it, primary first.
   *
   * @param blob `[version][nonce][ciphertext][tag]`
   * @param additionalData as for sealing
   * @returns the plaintext
   * @throws SyntaxError when the envelope is malformed or no key authenticates it
   */
  async open(blob: Uint8Array, additionalData: Uint8Array): Promise<Uint8Array> {
    const request = prepareOpen(blob, { keyring: this.#keyring, additionalData });
    for (const candidate of request.keys) {
      const key = await this.#import(candidate);
      try {
        const opened = await crypto.subtle.decrypt(
          {
            name: "AES-GCM",
            iv: buffer(request.nonce),
            additionalData: buffer(request.additionalData),
            tagLength: 128,
          },
          key,
          buffer(request.sealed),
        );
        return finishOpen(request, new Uint8Array(opened));
      } catch (error) {
        if (error instanceof SyntaxError) throw error;
        // Not this key (OperationError): try the next one, as memberlist's decryptPayload.
      }
    }
    throw new SyntaxError("Cannot decrypt: no installed key authenticates the message");
  }

  #import(key: Uint8Array): Promise<AesKey> {
    let imported = this.#imported.get(key);
    if (imported === undefined) {
      imported = crypto.subtle.importKey("raw", buffer(key), "AES-GCM", false, [
        "encrypt",
        "decrypt",
      ]);
      this.#imported.set(key, imported);
    }
    return imported;
  }
}

/** A copy on a plain `ArrayBuffer`, which WebCrypto's `BufferSource` type asks for. */
function buffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}
