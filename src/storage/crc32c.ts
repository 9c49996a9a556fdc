/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of iSCSI (RFC 3720
 * §12.1), ext4 metadata and etcd's write-ahead log. Pure and table-driven: "slicing by 8"
 * (Intel, Kounavis and Berry 2005) reads eight bytes per step with eight 256-entry tables, several
 * times faster in JavaScript than the byte-at-a-time loop, which handles the remainder.
 *
 * @example
 * ```ts
 * import { crc32c } from "./crc32c.ts";
 *
 * const sum = crc32c(new TextEncoder().encode("123456789"));
 * if (sum !== 0xe3069283) throw new Error("wrong checksum");
 * ```
 *
 * @module
 */

/** The reflected Castagnoli polynomial. */
const POLYNOMIAL = 0x82f63b78;

/** Eight tables of 256 entries: TABLES[k][b] is the CRC of byte b followed by k zero bytes. */
const TABLES: Uint32Array = buildTables();

function buildTables(): Uint32Array {
  const tables = new Uint32Array(8 * 256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    tables[byte] = crc;
  }
  for (let byte = 0; byte < 256; byte++) {
    let crc = tables[byte];
    for (let slice = 1; slice < 8; slice++) {
      crc = tables[crc & 0xff] ^ (crc >>> 8);
      tables[slice * 256 + byte] = crc;
    }
  }
  return tables;
}

/**
 * Continues a CRC-32C over more bytes, so a checksum can span several buffers.
 *
 * @param crc the CRC so far (0 for a fresh start), as returned by this function or {@link crc32c}
 * @param bytes the next bytes
 * @returns the CRC of everything so far, as an unsigned 32-bit number
 * @example
 * ```ts
 * import { crc32c, crc32cUpdate } from "./crc32c.ts";
 *
 * const bytes = new TextEncoder().encode("123456789");
 * const split = crc32cUpdate(crc32cUpdate(0, bytes.subarray(0, 4)), bytes.subarray(4));
 * if (split !== crc32c(bytes)) throw new Error("not incremental");
 * ```
 */
export function crc32cUpdate(crc: number, bytes: Uint8Array): number {
  const t = TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const end8 = bytes.length - (bytes.length % 8);
  while (i < end8) {
    const low = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    c = t[1792 + (low & 0xff)] ^ t[1536 + ((low >>> 8) & 0xff)] ^
      t[1280 + ((low >>> 16) & 0xff)] ^ t[1024 + (low >>> 24)] ^
      t[768 + bytes[i + 4]] ^ t[512 + bytes[i + 5]] ^
      t[256 + bytes[i + 6]] ^ t[bytes[i + 7]];
    i += 8;
  }
  while (i < bytes.length) c = t[(c ^ bytes[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * Computes the CRC-32C of `bytes`.
 *
 * @param bytes the bytes to sum
 * @returns the checksum as an unsigned 32-bit number (`"123456789"` gives `0xE3069283`)
 */
export function crc32c(bytes: Uint8Array): number {
  return crc32cUpdate(0, bytes);
}
