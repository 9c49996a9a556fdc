/**
 * The gossip keyring file, as Serf and Consul keep it (`serf/local.keyring` for the LAN pool,
 * `serf/remote.keyring` for the WAN pool, under the data dir): a JSON array of base64 keys,
 * primary first. Serf writes it after every keyring change it applies, so a restarted agent
 * keeps the keys it was told to install, use or remove; Consul seeds it from `-encrypt`.
 *
 * @module
 */

import type { FileStore } from "../../runtime.ts";
import { decodeBase64, encodeBase64 } from "../../core/base64.ts";
import { keyringKeysMax, validateKey } from "../../core/wire/mod.ts";

/** The LAN pool's keyring file name under `<data-dir>/serf` (Consul's `SerfLANKeyring`). */
export const lanKeyringFileName = "local.keyring";
/** The WAN pool's keyring file name under `<data-dir>/serf` (Consul's `SerfWANKeyring`). */
export const wanKeyringFileName = "remote.keyring";
/** Bytes a keyring file may have: 256 keys of 44 base64 characters, quoted, with room. */
export const keyringFileBytesMax = 64 * 1024;

/**
 * Decodes a `-encrypt` value or a keyring file entry.
 *
 * @throws RangeError when it is not base64 of a 16, 24 or 32-byte key
 */
export function decodeGossipKey(base64: string, what = "-encrypt"): Uint8Array {
  let key: Uint8Array;
  try {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) throw new SyntaxError("not base64");
    key = decodeBase64(base64);
  } catch {
    throw new RangeError(`Cannot use ${what}: the key is not base64`);
  }
  validateKey(key);
  return key;
}

/** Encodes keys (primary first) as Serf writes the file: a JSON array, two-space indented. */
export function encodeKeyringFile(keys: readonly Uint8Array[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(keys.map(encodeBase64), null, "  "));
}

/**
 * Decodes a keyring file.
 *
 * @param bytes the file's content
 * @param name the file's path, for error messages
 * @returns the keys, primary first
 * @throws RangeError naming the file when it is not a non-empty JSON array of valid keys
 */
export function decodeKeyringFile(bytes: Uint8Array, name: string): Uint8Array[] {
  if (bytes.length > keyringFileBytesMax) {
    throw new RangeError(`Cannot read keyring file "${name}": over ${keyringFileBytesMax} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new RangeError(`Cannot read keyring file "${name}": it is not JSON; fix or delete it`);
  }
  if (!Array.isArray(parsed) || parsed.some((entry) => typeof entry !== "string")) {
    throw new RangeError(`Cannot read keyring file "${name}": it must be a JSON array of keys`);
  }
  if (parsed.length === 0 || parsed.length > keyringKeysMax) {
    throw new RangeError(
      `Cannot read keyring file "${name}": it holds ${parsed.length} keys, not 1 to ` +
        `${keyringKeysMax}`,
    );
  }
  return (parsed as string[]).map((entry) => decodeGossipKey(entry, `keyring file "${name}"`));
}

/** What {@link loadKeyring} found. */
export interface LoadedKeyring {
  /** The keys to start with, primary first; empty for plaintext gossip. */
  keys: Uint8Array[];
  /** What happened, for the log; `undefined` when there is nothing to say. */
  note: string | undefined;
}

/**
 * The keys a pool starts with, as Consul's `setupKeyrings`: the keyring file when it exists
 * (keys installed at run time survive a restart), with the `-encrypt` key added when it is not
 * in it; else the `-encrypt` key alone, written to a new file; else none (plaintext).
 *
 * @param files the `<data-dir>/serf` directory; `undefined` keeps no file (dev agents)
 * @param fileName {@link lanKeyringFileName} or {@link wanKeyringFileName}
 * @param encrypt the `-encrypt` value, if any
 * @throws RangeError for a bad key or a damaged file
 */
export async function loadKeyring(
  files: FileStore | undefined,
  fileName: string,
  encrypt: string | undefined,
): Promise<LoadedKeyring> {
  const configured = encrypt === undefined ? undefined : decodeGossipKey(encrypt);
  const bytes = await files?.read(fileName);
  if (bytes === undefined) {
    if (configured === undefined) return { keys: [], note: undefined };
    await files?.replace(fileName, encodeKeyringFile([configured]));
    return { keys: [configured], note: undefined };
  }
  const path = `${files!.dir}/${fileName}`;
  const keys = decodeKeyringFile(bytes, path);
  if (configured === undefined) {
    return { keys, note: `gossip: encryption keys loaded from "${path}"` };
  }
  if (keys.some((key) => encodeBase64(key) === encodeBase64(configured))) {
    return { keys, note: `gossip: encryption keys loaded from "${path}"` };
  }
  // The file wins (it holds what keyring operations did); -encrypt joins it as a secondary.
  keys.push(configured);
  await files!.replace(fileName, encodeKeyringFile(keys));
  return {
    keys,
    note: `gossip: -encrypt key added to "${path}" as a secondary key; the file's primary stays`,
  };
}
