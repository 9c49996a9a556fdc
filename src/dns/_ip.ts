/**
 * IP literal and hostname helpers for the DNS interface: which family an address is, its hex form
 * for `<hex>.addr.<dc>.<domain>` names, and back. Pure and allocation-light: they run per record.
 *
 * @module
 */

/** The address family of a literal, or "hostname" for a valid DNS name, or "invalid". */
export type AddressKind = "ipv4" | "ipv6" | "hostname" | "invalid";

const hexDigits = "0123456789abcdef";

/**
 * Returns a dotted-quad IPv4 literal as an unsigned 32-bit number, or -1 when `text` is not one.
 * Allocates nothing: it runs for every address of every answer.
 */
export function ipv4Value(text: string): number {
  let address = 0;
  let parts = 0;
  let value = 0;
  let digits = 0;
  for (let index = 0; index <= text.length; index++) {
    const code = index < text.length ? text.charCodeAt(index) : 46; // a final "." closes the last part
    if (code === 46) {
      if (digits === 0 || parts === 4) return -1;
      address = address * 256 + value;
      parts++;
      value = 0;
      digits = 0;
    } else if (code >= 48 && code <= 57) {
      // Leading zeros are rejected, as Go's net.ParseIP does, to avoid octal ambiguity.
      if (digits > 0 && value === 0) return -1;
      value = value * 10 + code - 48;
      digits++;
      if (value > 255) return -1;
    } else {
      return -1;
    }
  }
  return parts === 4 ? address : -1;
}

/** Returns the four bytes of a dotted-quad IPv4 literal, or `undefined`. */
export function parseIpv4(text: string): number[] | undefined {
  const value = ipv4Value(text);
  if (value < 0) return undefined;
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
}

/** Returns the sixteen bytes of an IPv6 literal (with `::` and a dotted IPv4 tail), or `undefined`. */
export function parseIpv6(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] === "" ? [] : halves[0].split(":");
  const tail = halves.length === 1 || halves[1] === "" ? [] : halves[1].split(":");
  const groups: number[] = [];
  const parts = [...head, ...tail];
  let tailIpv4: number[] | undefined;
  for (let index = 0; index < parts.length; index++) {
    const part = parts[index];
    if (index === parts.length - 1 && part.includes(".")) {
      tailIpv4 = parseIpv4(part);
      if (tailIpv4 === undefined) return undefined;
      break;
    }
    if (part.length === 0 || part.length > 4) return undefined;
    let value = 0;
    for (let at = 0; at < part.length; at++) {
      const digit = hexDigits.indexOf(part[at].toLowerCase());
      if (digit < 0) return undefined;
      value = value * 16 + digit;
    }
    groups.push(value);
  }
  // A dotted tail must end the address: "1.2.3.4::" is not IPv6.
  if (tailIpv4 !== undefined && halves.length === 2 && tail.length === 0) return undefined;
  const groupCount = groups.length + (tailIpv4 === undefined ? 0 : 2);
  if (halves.length === 1 ? groupCount !== 8 : groupCount > 7) return undefined;
  const bytes: number[] = [];
  const headCount = tailIpv4 !== undefined && tail.length === 0 ? head.length - 1 : head.length;
  for (let index = 0; index < headCount; index++) {
    bytes.push(groups[index] >> 8, groups[index] & 255);
  }
  for (let fill = groupCount; fill < 8; fill++) bytes.push(0, 0);
  for (let index = headCount; index < groups.length; index++) {
    bytes.push(groups[index] >> 8, groups[index] & 255);
  }
  if (tailIpv4 !== undefined) bytes.push(...tailIpv4);
  return bytes.length === 16 ? bytes : undefined;
}

/** Whether `text` is a DNS hostname: dot-separated labels of 1..63 letters, digits, "-" or "_". */
export function isHostname(text: string): boolean {
  const name = text.endsWith(".") ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253) return false;
  let labelLength = 0;
  for (let index = 0; index < name.length; index++) {
    const code = name.charCodeAt(index);
    if (code === 46) {
      if (labelLength === 0) return false;
      labelLength = 0;
      continue;
    }
    const ok = (code >= 97 && code <= 122) || (code >= 65 && code <= 90) ||
      (code >= 48 && code <= 57) || code === 45 || code === 95;
    if (!ok || ++labelLength > 63) return false;
  }
  return labelLength > 0;
}

/** Classifies an address as Consul does: IP literal first, else a hostname (CNAME target). */
export function addressKind(text: string): AddressKind {
  if (text.includes(":")) return parseIpv6(text) === undefined ? "invalid" : "ipv6";
  if (ipv4Value(text) >= 0) return "ipv4";
  return isHostname(text) ? "hostname" : "invalid";
}

/** Lower-case hex of an IP's bytes: 8 digits for IPv4, 32 for IPv6 (Consul's `.addr.` label). */
export function ipToHex(text: string): string | undefined {
  const bytes = text.includes(":") ? parseIpv6(text) : parseIpv4(text);
  if (bytes === undefined) return undefined;
  let hex = "";
  for (const byte of bytes) hex += hexDigits[byte >> 4] + hexDigits[byte & 15];
  return hex;
}

/**
 * Decodes an `.addr.` label: 8 hex digits → an IPv4 literal, 32 → an IPv6 literal (eight full
 * groups), anything else → `undefined`.
 */
export function hexToIp(hex: string): { family: 4 | 6; address: string } | undefined {
  if (hex.length !== 8 && hex.length !== 32) return undefined;
  const bytes: number[] = [];
  for (let index = 0; index < hex.length; index += 2) {
    const high = hexDigits.indexOf(hex[index]);
    const low = hexDigits.indexOf(hex[index + 1]);
    if (high < 0 || low < 0) return undefined;
    bytes.push(high * 16 + low);
  }
  if (bytes.length === 4) return { family: 4, address: bytes.join(".") };
  const groups: string[] = [];
  for (let index = 0; index < 16; index += 2) {
    groups.push(((bytes[index] << 8) | bytes[index + 1]).toString(16));
  }
  return { family: 6, address: groups.join(":") };
}
