// Goal: nothing a peer sends can make the wire layer throw anything but the documented
// SyntaxError (TruncatedInputError is one), hang, or allocate beyond its bounds. Method:
// fast-check feeds every decoder random bytes, random bytes behind each valid type byte, and
// mutations (bit flips, cuts, insertions) of the 37 captured vectors' decrypted plaintexts.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeFilter,
  decodeMessage,
  decodePingPayload,
  decodeSerfMessage,
  decodeStreamEncryptionHeader,
  decodeTags,
  decompressMessage,
  Keyring,
  lzwDecompress,
  prepareOpen,
  readStream,
  removeLabel,
  unwrapPacket,
} from "../../../src/core/wire/mod.ts";
import { fromHex, vectorKeys, vectors } from "./_vectors.ts";

/** Runs `decode` and fails unless it returns or throws a SyntaxError. */
function onlySyntaxErrors(decode: () => unknown): void {
  try {
    decode();
  } catch (error) {
    assert.ok(error instanceof SyntaxError, `threw ${String(error)}`);
    assert.match(error.message, /^Cannot /);
  }
}

/** Decodes `bytes` through every decoder a received packet or stream can reach. */
function decodeEverything(bytes: Uint8Array): void {
  onlySyntaxErrors(() => {
    for (const part of unwrapPacket(bytes, { decompressedBytesMax: 1 << 20 }).parts) {
      onlySyntaxErrors(() => {
        const message = decodeMessage(part);
        if (message.type === "user") decodeSerfDeep(message.payload);
        if (message.type === "ack") decodePingPayload(message.payload);
        if (message.type === "alive") decodeTags(message.meta);
      });
    }
  });
  onlySyntaxErrors(() => readStream(bytes, { decompressedBytesMax: 1 << 20 }));
  onlySyntaxErrors(() => decodeSerfDeep(bytes));
  onlySyntaxErrors(() => decompressMessage(bytes, 1 << 20));
  onlySyntaxErrors(() => lzwDecompress(bytes, 1 << 20));
  onlySyntaxErrors(() => decodeFilter(bytes));
  onlySyntaxErrors(() => removeLabel(bytes));
  onlySyntaxErrors(() => decodeStreamEncryptionHeader(bytes));
  onlySyntaxErrors(() => prepareOpen(bytes, { keyring: new Keyring(vectorKeys) }));
}

function decodeSerfDeep(bytes: Uint8Array): void {
  const message = decodeSerfMessage(bytes);
  if (message.type === "query") {
    for (const filter of message.filters ?? []) onlySyntaxErrors(() => decodeFilter(filter));
  }
  if (message.type === "relay") onlySyntaxErrors(() => decodeSerfMessage(message.message));
  if ("payload" in message && message.payload !== undefined) {
    onlySyntaxErrors(() => decodeSerfMessage(message.payload!));
  }
}

test("random bytes make the decoders throw only SyntaxError", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), decodeEverything), { numRuns: 2_000 });
});

test("random bodies behind every type byte make the decoders throw only SyntaxError", () => {
  const typed = fc.tuple(fc.integer({ min: 0, max: 14 }), fc.uint8Array({ maxLength: 200 }))
    .map(([type, body]) => Uint8Array.of(type, ...body));
  const serf = fc.tuple(fc.integer({ min: 0, max: 10 }), fc.uint8Array({ maxLength: 200 }))
    .map(([type, body]) => Uint8Array.of(8, type, ...body));
  fc.assert(fc.property(fc.oneof(typed, serf), decodeEverything), { numRuns: 3_000 });
});

/** The innermost bytes of each vector before decryption or after it (the plaintext). */
const seeds: Uint8Array[] = vectors.flatMap((vector) => {
  const encryption = vector.layers.find((layer) => String(layer.layer).startsWith("encrypt"));
  const compression = vector.layers.find((layer) => String(layer.layer).startsWith("compress"));
  const seedsOfVector = [fromHex(vector.hex)];
  if (encryption !== undefined) seedsOfVector.push(fromHex(encryption.plainHex as string));
  if (compression !== undefined) {
    seedsOfVector.push(fromHex(compression.decompressedHex as string));
  }
  return seedsOfVector;
});

const mutation = fc.oneof(
  fc.record({ kind: fc.constant("flip"), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("cut"), at: fc.nat() }),
  fc.record({ kind: fc.constant("insert"), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("set"), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
);

function mutate(
  seed: Uint8Array,
  steps: Array<{ kind: string; at: number; bit?: number; byte?: number }>,
) {
  let bytes = seed.slice();
  for (const step of steps) {
    if (bytes.length === 0) break;
    const at = step.at % bytes.length;
    if (step.kind === "flip") bytes[at] ^= 1 << step.bit!;
    else if (step.kind === "set") bytes[at] = step.byte!;
    else if (step.kind === "cut") bytes = bytes.slice(0, at);
    else bytes = Uint8Array.of(...bytes.subarray(0, at), step.byte!, ...bytes.subarray(at));
  }
  return bytes;
}

test("mutated captured messages make the decoders throw only SyntaxError", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: seeds.length - 1 }),
      fc.array(mutation, { minLength: 1, maxLength: 4 }),
      (index, steps) => decodeEverything(mutate(seeds[index], steps)),
    ),
    { numRuns: 3_000 },
  );
});
