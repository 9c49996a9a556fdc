/**
 * IP-literal checks for every adapter, without `node:net`: importing `node:net` on Bun only for
 * its `isIP` costs ~6 MiB of idle memory (docs/benchmarks.md, edge footprint). Accepts what
 * `node:net`'s `isIP` accepts: dotted-quad IPv4 without leading zeros, and IPv6 text with an
 * optional zone (`fe80::1%eth0`) and an optional IPv4 tail (`::ffff:127.0.0.1`);
 * test/runtime/ip_version_test.ts compares the two.
 *
 * @module
 */

import type { Address } from "../src/runtime.ts";
import { formatAddress } from "./_errors.ts";

/** One dotted-quad part: 0-255, no leading zero. */
const IPV4_PART = /^(?:0|[1-9][0-9]{0,2})$/;
/** One IPv6 group: 1-4 hex digits. */
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;
/** An IPv6 zone (interface name or index), as `node:net` accepts it. */
const IPV6_ZONE = /^[0-9a-zA-Z\-.:]+$/;
/** Groups in a full IPv6 address. */
const IPV6_GROUPS = 8;

/**
 * Returns 4 or 6 for an IP literal, 0 for anything else (a host name, an empty string).
 *
 * @param host the text to check
 * @returns the IP version, or 0
 */
export function ipVersion(host: string): 0 | 4 | 6 {
  if (isIpv4(host)) return 4;
  if (isIpv6(host)) return 6;
  return 0;
}

/**
 * Returns 4 or 6 for an IP literal; throws a `TypeError` for anything else (a name would need a
 * DNS lookup, which the Runtime never does behind the caller's back).
 *
 * @param address the address to check
 * @param action what was attempted, for the error message
 * @returns the IP version of `address.host`
 */
export function ipVersionOf(address: Address, action: string): 4 | 6 {
  const version = typeof address.host === "string" ? ipVersion(address.host) : 0;
  if (version !== 0) return version;
  throw new TypeError(
    `Cannot ${action} ${formatAddress(address)}: host must be an IP literal, got "${address.host}"`,
  );
}

function isIpv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 &&
    parts.every((part) => IPV4_PART.test(part) && Number(part) <= 255);
}

function isIpv6(text: string): boolean {
  const zoneAt = text.indexOf("%");
  if (zoneAt !== -1 && !IPV6_ZONE.test(text.slice(zoneAt + 1))) return false;
  const address = zoneAt === -1 ? text : text.slice(0, zoneAt);
  const halves = address.split("::");
  if (halves.length > 2) return false;
  let groupCount = 0;
  for (const [index, half] of halves.entries()) {
    if (half === "") continue;
    const groups = half.split(":");
    const last = groups[groups.length - 1];
    // An IPv4 tail (RFC 4291 §2.2, form 3) stands for the last two groups.
    const ipv4Tail = index === halves.length - 1 && last.includes(".");
    if (ipv4Tail && !isIpv4(last)) return false;
    const hexGroups = ipv4Tail ? groups.slice(0, -1) : groups;
    if (!hexGroups.every((group) => IPV6_GROUP.test(group))) return false;
    groupCount += hexGroups.length + (ipv4Tail ? 2 : 0);
  }
  // "::" stands for at least one group of zeros.
  return halves.length === 2 ? groupCount <= IPV6_GROUPS - 1 : groupCount === IPV6_GROUPS;
}
