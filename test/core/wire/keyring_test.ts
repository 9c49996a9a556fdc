// Goal: the keyring behaves as memberlist's keyring.go (primary first, install/use/remove rules),
// and the envelope helpers produce what memberlist's security.go produces and refuses what it
// refuses, for both envelope versions, on packets and streams. Method: unit cases, then seal/open
// round trips through WebCrypto (as a shell would call it), tampering, and wrong keys. The
// captured encrypted vectors are checked byte for byte in vectors_test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeStreamEncryptionHeader,
  encodeStreamEncryptionHeader,
  encryptedLength,
  encryptionOverheadBytes,
  finishOpen,
  finishSeal,
  Keyring,
  padPkcs7,
  prepareOpen,
  prepareSeal,
  streamAdditionalData,
  TruncatedInputError,
  unpadPkcs7,
  validateKey,
} from "../../../src/core/wire/mod.ts";
import { open, seal, toHex, vectorKeys } from "./_vectors.ts";

const [key1, key2] = vectorKeys;
const key3 = new Uint8Array(16).fill(3);

test("validateKey() takes 16, 24 or 32 bytes, as memberlist ValidateKey", () => {
  for (const length of [16, 24, 32]) validateKey(new Uint8Array(length));
  for (const length of [0, 15, 31, 33]) {
    assert.throws(() => validateKey(new Uint8Array(length)), RangeError);
  }
});

test("Keyring keeps the primary key first through install, use and remove", () => {
  const keyring = new Keyring([key1]);
  keyring.install(key2);
  keyring.install(key2); // no-op when installed
  assert.deepStrictEqual(keyring.keys, [key1, key2]);
  keyring.use(key2);
  assert.deepStrictEqual(keyring.primaryKey, key2);
  assert.deepStrictEqual(keyring.keys, [key2, key1]);
  assert.throws(() => keyring.remove(key2), RangeError); // the primary key
  keyring.remove(key1);
  keyring.remove(key3); // absent: no-op
  assert.deepStrictEqual(keyring.keys, [key2]);
  assert.throws(() => keyring.use(key1), RangeError);
  assert.throws(() => new Keyring([]), RangeError);
  assert.deepStrictEqual(new Keyring([key1, key2], key2).keys, [key2, key1]);
});

test("encryptedLength() and encryptionOverheadBytes() match memberlist", () => {
  assert.equal(encryptionOverheadBytes(1), 29);
  assert.equal(encryptionOverheadBytes(0), 45);
  assert.equal(encryptedLength(1, 59), 88); // enc-udp-ping: 59-byte ping, 88-byte packet
  assert.equal(encryptedLength(0, 0), 45);
  assert.equal(encryptedLength(0, 16), 61);
});

test("padPkcs7() and unpadPkcs7() round-trip, and bad padding is a SyntaxError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      const padded = padPkcs7(bytes);
      assert.equal(padded.length % 16, 0);
      assert.ok(padded.length > bytes.length);
      assert.deepStrictEqual(unpadPkcs7(padded), bytes);
    }),
  );
  assert.throws(() => unpadPkcs7(new Uint8Array(0)), SyntaxError);
  assert.throws(() => unpadPkcs7(Uint8Array.of(1, 0)), SyntaxError);
  assert.throws(() => unpadPkcs7(Uint8Array.of(17)), SyntaxError);
});

test("a packet sealed with either version opens with any installed key", async () => {
  const plaintext = new TextEncoder().encode("hello gossip");
  for (const version of [0, 1]) {
    const sender = new Keyring([key2]);
    const request = prepareSeal(plaintext, { keyring: sender, nonce: new Uint8Array(12), version });
    const packet = finishSeal(request, await seal(request));
    assert.equal(packet.length, encryptedLength(version, plaintext.length));
    assert.equal(packet[0], version);
    const receiver = new Keyring([key1, key2]); // primary differs: the second key opens it
    const openRequest = prepareOpen(packet, { keyring: receiver });
    assert.deepStrictEqual(finishOpen(openRequest, (await open(openRequest))!), plaintext);
    const stranger = prepareOpen(packet, { keyring: new Keyring([key3]) });
    assert.equal(await open(stranger), undefined);
    const tampered = packet.slice();
    tampered[20] ^= 1;
    assert.equal(await open(prepareOpen(tampered, { keyring: receiver })), undefined);
  }
});

test("a stream is sealed with its 5-byte header as additional data", async () => {
  const keyring = new Keyring([key1]);
  const plaintext = new Uint8Array(100).fill(7);
  const header = encodeStreamEncryptionHeader(encryptedLength(1, plaintext.length));
  assert.equal(toHex(header), "0a00000081");
  const request = prepareSeal(plaintext, {
    keyring,
    nonce: new Uint8Array(12).fill(9),
    additionalData: streamAdditionalData(header),
  });
  const stream = Uint8Array.of(...header, ...finishSeal(request, await seal(request)));
  const length = decodeStreamEncryptionHeader(stream);
  assert.equal(length, stream.length - 5);
  const opened = prepareOpen(stream.subarray(5), {
    keyring,
    additionalData: streamAdditionalData(stream),
  });
  assert.deepStrictEqual(await open(opened), plaintext);
  // The header is authenticated: another declared length fails to open.
  const otherHeader = encodeStreamEncryptionHeader(length + 1);
  const forged = prepareOpen(stream.subarray(5), {
    keyring,
    additionalData: streamAdditionalData(otherHeader),
  });
  assert.equal(await open(forged), undefined);
});

test("prepareOpen() and decodeStreamEncryptionHeader() refuse what memberlist refuses", () => {
  const keyring = new Keyring([key1]);
  assert.throws(() => prepareOpen(new Uint8Array(0), { keyring }), SyntaxError);
  assert.throws(() => prepareOpen(new Uint8Array(40).fill(2), { keyring }), SyntaxError);
  assert.throws(
    () => prepareOpen(Uint8Array.of(1, ...new Uint8Array(27)), { keyring }),
    SyntaxError,
  );
  assert.throws(() => prepareOpen(new Uint8Array(44), { keyring }), SyntaxError); // v0 min 45
  assert.throws(() => decodeStreamEncryptionHeader(Uint8Array.of(10, 0)), TruncatedInputError);
  assert.throws(() => decodeStreamEncryptionHeader(Uint8Array.of(9, 0, 0, 0, 1)), SyntaxError);
  assert.throws(() => decodeStreamEncryptionHeader(Uint8Array.of(10, 2, 0, 0, 0)), SyntaxError);
});
