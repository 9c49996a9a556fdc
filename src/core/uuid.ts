/**
 * Random UUIDs (RFC 4122 version 4) from a caller-supplied source of random bytes, so the core
 * never reaches for randomness itself.
 *
 * @module
 */

/**
 * A random version 4 UUID.
 *
 * @param randomBytes fills the given array with random bytes and returns it
 * @returns e.g. "0d7c5f0e-4f8a-4b1e-9c7d-2a1b3c4d5e6f"
 */
export function randomUuid(randomBytes: (bytes: Uint8Array) => Uint8Array): string {
  const bytes = randomBytes(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}
