/**
 * IP literals to and from the raw address bytes memberlist carries (`Addr`, `SourceAddr`,
 * `Target`: 4 bytes for IPv4, 16 for IPv6; gossip-wire.md §9). Private to `src/agent/gossip`.
 *
 * @module
 */

/**
 * Returns the 4 or 16 raw bytes of an IP literal.
 *
 * @param host dotted IPv4, IPv6 (brackets allowed), or IPv4-mapped IPv6 (`::ffff:1.2.3.4`)
 * @throws TypeError when `host` is not an IP literal
 */
export function ipToBytes(host: string): Uint8Array {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const v4 = parseIpv4(bare);
  if (v4 !== undefined) return v4;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped !== null) {
    const inner = parseIpv4(mapped[1]);
    if (inner !== undefined) return inner;
  }
  const v6 = parseIpv6(bare);
  if (v6 !== undefined) return v6;
  throw new TypeError(`Cannot parse address: "${host}" is not an IP literal`);
}

/**
 * Returns the text form of 4 or 16 raw address bytes.
 *
 * @throws TypeError for any other length
 */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
    return groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::");
  }
  throw new TypeError(`Cannot format address: ${bytes.length} bytes is neither IPv4 nor IPv6`);
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i += 1) {
    if (!/^\d{1,3}$/.test(parts[i])) return undefined;
    const value = Number(parts[i]);
    if (value > 255) return undefined;
    bytes[i] = value;
  }
  return bytes;
}

function parseIpv6(text: string): Uint8Array | undefined {
  if (!/^[0-9a-f:]+$/i.test(text) || text.length > 39) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] === "" ? [] : halves[0].split(":");
  const tail = halves.length === 2 && halves[1] !== "" ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i += 1) {
    if (!/^[0-9a-f]{1,4}$/i.test(groups[i])) return undefined;
    const value = parseInt(groups[i], 16);
    bytes[2 * i] = value >> 8;
    bytes[2 * i + 1] = value & 0xff;
  }
  return bytes;
}
