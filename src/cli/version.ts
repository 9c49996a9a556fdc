/**
 * The version of cairn: the one place it is written for the CLI (`cairn version`, `-v`).
 *
 * @module
 */

/** cairn's release version, kept equal to `version` in `deno.json`. */
export const CAIRN_VERSION = "0.1.0";

/** The Consul protocol version cairn speaks by default (Consul's `ProtocolVersion2Compatible`). */
export const PROTOCOL_VERSION = 2;

/** The oldest Consul protocol version cairn understands. */
export const PROTOCOL_VERSION_MIN = 2;

/** The newest Consul protocol version cairn understands. */
export const PROTOCOL_VERSION_MAX = 3;

/**
 * The lines `cairn version` prints, in the shape of `consul version`.
 *
 * @returns the lines, without final newlines
 */
export function versionLines(): string[] {
  return [
    `cairn v${CAIRN_VERSION}`,
    `Protocol ${PROTOCOL_VERSION} spoken by default, understands ${PROTOCOL_VERSION_MIN} to ` +
    `${PROTOCOL_VERSION_MAX} (agent will automatically use protocol >${PROTOCOL_VERSION} when ` +
    "speaking to compatible agents)",
  ];
}
