/**
 * The DNS answerer: a pure function from a decoded query and a {@link DnsLookup} to the response
 * packet, answering as Consul's DNS interface does (`agent/dns.go`). No I/O: randomness (for the
 * shuffle) and the SOA serial come in as options, so tests are exact.
 *
 * Forms answered, all case-insensitive, `[.<dc>]` naming a datacenter (also as `<dc>.dc`), the
 * local one when left out:
 * - `[<tag>.]<service>.service[.<dc>].<domain>`: A/AAAA (CNAME for hostnames), SRV when asked;
 * - `_<service>._<tag|tcp>[.service][.<dc>].<domain>` (RFC 2782; `_tcp` means no tag filter);
 * - `<node>.node[.<dc>].<domain>`: A/AAAA (CNAME for hostnames) and TXT from node metadata;
 * - `<hex-ip>.addr[.<dc>].<domain>`: 8 hex digits → A, 32 → AAAA.
 *
 * Another datacenter is answered from the lookup's {@link DnsLookup.forDatacenter} (its data
 * fetched from that datacenter's servers, as Consul forwards the RPC across the WAN); SRV targets
 * then name it: `<node>.node.<dc>.<domain>`. A datacenter it has no path to is NXDOMAIN.
 *
 * @module
 */

import type { Answer, DecodedPacket, OptAnswer, Packet, Question } from "dns-packet";
import type { DnsLookup, DnsServiceInstance } from "./dns_lookup.ts";
import { addressKind, hexToIp, ipToHex, isHostname } from "./_ip.ts";

/** A source of random numbers; structurally the same as the core's seeded `Random`. */
export interface DnsRandom {
  /** Returns a uniformly distributed integer in [0, 2^32). */
  nextUint32(): number;
}

/** Per-query inputs of {@link answerDnsQuery}: how the query came in, and what varies. */
export interface DnsAnswerOptions {
  /** The transport the query came over; decides the size limit of the response. */
  transport: "udp" | "tcp";
  /** The SOA serial: Consul uses the current Unix time in seconds. */
  soaSerial: number;
  /** Shuffles service instances; a fresh order every response (Consul shuffles every time). */
  random: DnsRandom;
  /**
   * Answers kept in a UDP response limited to 512 bytes (no EDNS), as Consul's
   * `dns_config.udp_answer_limit`; the effective cap is `min(8, udpAnswerLimit)`. @default {3}
   */
  udpAnswerLimit?: number;
}

/** DNS response codes used here (RFC 1035 §4.1.1, RFC 6891 §9 for BADVERS). */
export const DnsRcode = {
  noError: 0,
  formatError: 1,
  serverFailure: 2,
  nameError: 3,
  notImplemented: 4,
  refused: 5,
  /** Extended (12-bit) code: the OPT record carries the upper 8 bits. */
  badVersion: 16,
} as const;

/** The default of {@link DnsAnswerOptions.udpAnswerLimit}, as Consul's `udp_answer_limit`. */
export const udpAnswerLimitDefault = 3;
/** Consul's hard cap on answers in a 512-byte UDP response (`maxUDPAnswerLimit`). */
export const udpAnswerLimitMax = 8;
/** A DNS message without EDNS is at most 512 bytes over UDP (RFC 1035 §4.2.1). */
export const udpBytesDefault = 512;
/** The largest UDP payload we send, whatever a client advertises (IPv4 UDP maximum). */
export const udpBytesMax = 65_507;
/** The largest message over TCP: its length must fit the 2-byte prefix (RFC 1035 §4.2.2). */
export const tcpBytesMax = 65_535;
/** Answer caps when size is the real limit (Consul `trimTCPResponse`: 1024 SRV fill 64 KB). */
const answersMaxSrv = 1_024;
const answersMaxOther = 4_096;

const flagAuthoritative = 1 << 10;
const flagRecursionDesired = 1 << 8;
const flagCheckingDisabled = 1 << 4;
/** Every record is TTL 0: Consul's default `node_ttl` and `service_ttl` disable caching. */
const ttlSeconds = 0;
const headerBytes = 12;
/** A name is at most 255 bytes on the wire (RFC 1035 §3.1). */
const nameBytesMax = 255;

/** The response being built, with its running size (uncompressed, as dns-packet encodes). */
interface Reply {
  readonly qname: string;
  /** The encoded size of `qname`, the owner of every answer. */
  readonly qnameBytes: number;
  readonly qtype: string;
  readonly answers: Answer[];
  readonly authorities: Answer[];
  /** Additional records: SRV targets' addresses, then the OPT record last. */
  readonly extras: Answer[];
  readonly opt: OptAnswer | undefined;
  extraNames: Set<string> | undefined;
  bytes: number;
  readonly bytesMax: number;
  readonly answersMax: number;
}

/** The parsed part of a query name under the domain. */
interface Target {
  kind: "service" | "node" | "addr" | "query";
  /** Labels left of the kind label, e.g. ["v1", "web"] for `v1.web.service.consul`. */
  parts: string[];
  /** Labels right of the kind label: none, `<dc>` or `<dc>.dc`. */
  suffix: string[];
}

/** Names derived from the lookup's domain and datacenter, in the form dns-packet takes. */
interface Zone {
  /** The lookup's domain as given, to notice a change. */
  readonly domainRaw: string;
  /** The lookup's datacenter as given, to notice a change. */
  readonly datacenterRaw: string;
  /** The domain without its final dot, lower case, e.g. "consul". */
  readonly domain: string;
  /** "." and the domain, to test names with `endsWith`. */
  readonly dotDomain: string;
  /** The datacenter, lower case. */
  readonly datacenter: string;
  /** `.<dc>.<domain>`, appended to SRV targets. */
  readonly suffix: string;
  /** The zones of other datacenters asked for, by name (at most {@link otherZonesMax}). */
  readonly others: Map<string, Zone>;
}

/** Zones of other datacenters kept; past it they are built afresh. */
const otherZonesMax = 64;

/** The zone of the last lookup seen: derived strings are built once, not per query. */
let zoneLast: Zone | undefined;

/**
 * Answers one decoded DNS query from `lookup`, or returns `undefined` when the packet must be
 * dropped (it is a response, not a query).
 *
 * Rcodes follow Consul: NOTIMP for opcodes other than QUERY and for zone transfers, FORMERR unless
 * there is exactly one question, REFUSED for names outside the domain (there are no recursors),
 * NXDOMAIN with the SOA in authority for unknown names, nodes, datacenters and services without a
 * healthy instance, NODATA (NOERROR, no answers, SOA in authority) for known names without records
 * of the asked type. Answers fit the transport: 512 bytes and `min(8, udpAnswerLimit)` answers for
 * plain UDP (silently, with no TC bit, as Consul), the advertised EDNS size, or 64 KB over TCP.
 *
 * @param query a query as `dns-packet` decodes it
 * @param lookup the catalog view to answer from
 * @param options transport, SOA serial, random source and answer limit
 * @returns the response packet to encode, or `undefined` to send nothing
 * @example
 * ```ts
 * const response = answerDnsQuery(decode(bytes), lookup, { transport: "udp", soaSerial, random });
 * if (response !== undefined) socket.send(encodeDnsResponse(response, 0), from);
 * ```
 */
export function answerDnsQuery(
  query: DecodedPacket | Packet,
  lookup: DnsLookup,
  options: DnsAnswerOptions,
): Packet | undefined {
  if (query.type === "response") return undefined;
  const flags = query.flags ?? 0;
  const opcode = (flags >> 11) & 0xf;
  const echoed = (opcode << 11) | (flags & (flagRecursionDesired | flagCheckingDisabled));
  const questions = query.questions ?? [];
  const question = questions.length === 1 ? questions[0] : undefined;
  // Non-QUERY opcodes are rejected before the question is looked at (miekg/dns acceptfunc.go).
  if (opcode !== 0) return bareReply(query, echoed | DnsRcode.notImplemented, question);
  if (question === undefined) return bareReply(query, echoed | DnsRcode.formatError, undefined);
  // A name we could not echo byte for byte (non-ASCII labels change length) gets no question.
  if (!isAscii(question.name)) return bareReply(query, echoed | DnsRcode.formatError, undefined);
  const qclass = question.class ?? "IN";
  if (qclass !== "IN" && qclass !== "ANY") {
    const echo = qclass.startsWith("UNKNOWN_") ? undefined : question;
    return bareReply(query, echoed | DnsRcode.refused, echo);
  }
  if (question.type === "AXFR" || question.type === "IXFR") {
    return bareReply(query, echoed | DnsRcode.notImplemented, question);
  }
  const queryOpt = findOpt(query);
  if (queryOpt !== undefined && queryOpt.ednsVersion !== 0) {
    return badVersionReply(query, echoed, question, queryOpt);
  }
  const opt = queryOpt === undefined ? undefined : responseOpt(queryOpt, 0);
  const zone = zoneOf(lookup);
  const lower = trimDot(question.name.toLowerCase());
  if (lower !== zone.domain && !lower.endsWith(zone.dotDomain)) {
    // Outside our domain and no recursors: refuse, not authoritative (Consul agent/dns.go).
    return finish(query, echoed | DnsRcode.refused, question, newReply(question, opt, options));
  }
  const reply = newReply(question, opt, options);
  const rcode = resolve(reply, lower, lookup, zone, options);
  if (reply.answers.length === 0) reply.authorities.push(soaRecord(zone, options.soaSerial));
  return finish(query, echoed | flagAuthoritative | rcode, question, reply);
}

/** Fills `reply` for a name under the domain and returns the rcode. */
function resolve(
  reply: Reply,
  lower: string,
  lookup: DnsLookup,
  zone: Zone,
  options: DnsAnswerOptions,
): number {
  const restLength = lower.length - zone.dotDomain.length;
  const labels = restLength <= 0 ? [] : lower.slice(0, restLength).split(".");
  const target = parseTarget(labels, reply.qtype);
  if (target === undefined) {
    // The apex and `<dc>` exist, having names below them: NODATA, not NXDOMAIN, so that
    // resolvers that cut the tree at an NXDOMAIN (RFC 8020) still resolve what is below.
    if (labels.length === 0 && (reply.qtype === "SOA" || reply.qtype === "ANY")) {
      const soa = soaRecord(zone, options.soaSerial);
      push(reply, soa, recordSize(soa, nameSize(soa.name)));
    }
    const exists = labels.length === 0 || isLocal(labels, zone.datacenter) ||
      otherDatacenter(labels, lookup) !== undefined;
    return exists ? DnsRcode.noError : DnsRcode.nameError;
  }
  let where = lookup;
  let whereZone = zone;
  if (!isLocal(target.suffix, zone.datacenter)) {
    // Another datacenter: answered from its lookup, its names under `.<dc>.<domain>`.
    const other = otherDatacenter(target.suffix, lookup);
    if (other === undefined) return DnsRcode.nameError;
    where = other;
    whereZone = otherZone(zone, target.suffix[0]);
  }
  // `service.<domain>` and the like are empty non-terminals too.
  if (target.parts.length === 0) return DnsRcode.noError;
  switch (target.kind) {
    case "service":
      return resolveService(reply, target.parts, where, whereZone, options);
    case "node":
      return resolveNode(reply, target.parts.join("."), where);
    case "addr":
      return resolveAddr(reply, target.parts);
    default:
      return DnsRcode.nameError; // Prepared queries are not supported yet.
  }
}

/**
 * Finds the kind label scanning from the right, as Consul does: the first of `service`, `node`,
 * `addr`, `query`; for SRV queries a `_`-prefixed label also starts an RFC 2782 service name.
 */
function parseTarget(labels: string[], qtype: string): Target | undefined {
  for (let index = labels.length - 1; index >= 0; index--) {
    const label = labels[index];
    if (label === "service" || label === "node" || label === "addr" || label === "query") {
      return { kind: label, parts: labels.slice(0, index), suffix: labels.slice(index + 1) };
    }
    if (qtype === "SRV" && label.charCodeAt(0) === 95) {
      // The `service` label is optional in the RFC 2782 form: `_web._tcp.<dc>.<domain>`.
      return {
        kind: "service",
        parts: labels.slice(0, index + 1),
        suffix: labels.slice(index + 1),
      };
    }
  }
  return undefined;
}

/** Whether the labels right of the kind name the local datacenter: none, `<dc>` or `<dc>.dc`. */
function isLocal(suffix: string[], datacenter: string): boolean {
  if (suffix.length === 0) return true;
  if (suffix.length === 1) return suffix[0] === datacenter;
  return suffix.length === 2 && suffix[1] === "dc" && suffix[0] === datacenter;
}

/**
 * The lookup of the other datacenter the labels right of the kind name (`<dc>` or `<dc>.dc`),
 * or `undefined` when they name none or the lookup has no path to it.
 */
function otherDatacenter(suffix: string[], lookup: DnsLookup): DnsLookup | undefined {
  const named = suffix.length === 1 || (suffix.length === 2 && suffix[1] === "dc");
  if (!named || lookup.forDatacenter === undefined) return undefined;
  return lookup.forDatacenter(suffix[0]);
}

/** The zone of datacenter `datacenter` under the same domain, built once per name. */
function otherZone(zone: Zone, datacenter: string): Zone {
  const known = zone.others.get(datacenter);
  if (known !== undefined) return known;
  if (zone.others.size >= otherZonesMax) zone.others.clear();
  const suffix = "." + datacenter + "." + zone.domain;
  const other: Zone = { ...zone, datacenterRaw: datacenter, datacenter, suffix, others: new Map() };
  zone.others.set(datacenter, other);
  return other;
}

/** Service instances as A/AAAA/CNAME, SRV or TXT answers; NXDOMAIN when none is healthy. */
function resolveService(
  reply: Reply,
  parts: string[],
  lookup: DnsLookup,
  zone: Zone,
  options: DnsAnswerOptions,
): number {
  let service = parts[parts.length - 1];
  let tag: string | undefined = parts.length >= 2 ? parts.slice(0, -1).join(".") : undefined;
  if (parts.length === 2 && parts[0].startsWith("_") && parts[1].startsWith("_")) {
    // RFC 2782: `_<service>._<tag>`, where `_tcp` means any tag (Consul agent/dns.go).
    service = parts[0].slice(1);
    tag = parts[1] === "_tcp" ? undefined : parts[1].slice(1);
  }
  const instances = lookup.serviceInstances(service, tag);
  if (instances.length === 0) return DnsRcode.nameError;
  const qtype = reply.qtype;
  const wantsAddress = qtype === "A" || qtype === "AAAA" || qtype === "ANY";
  if (!wantsAddress && qtype !== "SRV" && qtype !== "TXT") return DnsRcode.noError;
  // A partial Fisher-Yates shuffle: only the instances that make it into the reply are drawn.
  const pool = instances.slice();
  const seen = new Set<string>();
  for (let index = 0; index < pool.length; index++) {
    const pick = index + (options.random.nextUint32() % (pool.length - index));
    const instance = pool[pick];
    pool[pick] = pool[index];
    pool[index] = instance;
    const added = wantsAddress
      ? addInstanceAddress(reply, instance, seen)
      : qtype === "SRV"
      ? addInstanceSrv(reply, instance, zone, seen)
      : addMeta(reply, instance.node, instance.nodeMeta, seen);
    if (!added) break;
  }
  return DnsRcode.noError;
}

/** Adds the instance's address record unless a record for it is already there; false when full. */
function addInstanceAddress(
  reply: Reply,
  instance: DnsServiceInstance,
  seen: Set<string>,
): boolean {
  const address = instance.serviceAddress === "" ? instance.nodeAddress : instance.serviceAddress;
  if (seen.has(address)) return true; // Consul skips duplicates: one service on several ports.
  seen.add(address);
  const record = addressRecord(reply.qname, address, reply.qtype);
  return record === undefined ? true : push(reply, record, recordSize(record, reply.qnameBytes));
}

/** Adds an SRV answer and the A/AAAA record of its target in additionals; false when full. */
function addInstanceSrv(
  reply: Reply,
  instance: DnsServiceInstance,
  zone: Zone,
  seen: Set<string>,
): boolean {
  const port = instance.port;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) return true;
  const own = instance.serviceAddress !== "" && instance.serviceAddress !== instance.nodeAddress;
  const address = own ? instance.serviceAddress : instance.nodeAddress;
  // Consul skips duplicates: one node, address and port listed twice.
  const key = instance.node + "\u0000" + address + "\u0000" + port;
  if (seen.has(key)) return true;
  seen.add(key);
  const kind = addressKind(address);
  let target: string;
  let extra: Answer | undefined;
  if (kind === "ipv4" || kind === "ipv6") {
    // An IP of its own becomes `<hex>.addr.<dc>.<domain>` (Consul), else the node's name.
    if (!own && !isHostname(instance.node)) return true; // A node name DNS cannot carry.
    target = own ? ipToHex(address) + ".addr" + zone.suffix : instance.node + ".node" + zone.suffix;
    extra = kind === "ipv4"
      ? { type: "A", name: target, ttl: ttlSeconds, class: "IN", data: address }
      : { type: "AAAA", name: target, ttl: ttlSeconds, class: "IN", data: address };
  } else if (kind === "hostname") {
    target = trimDot(address); // A hostname is its own target; the client resolves it.
  } else {
    return true;
  }
  const targetBytes = nameSize(target);
  if (targetBytes > nameBytesMax) return true;
  const weightRaw = instance.status === "warning" ? instance.weightWarning : instance.weightPassing;
  const weight = Number.isFinite(weightRaw)
    ? Math.min(65_535, Math.max(0, Math.trunc(weightRaw)))
    : 1;
  const record: Answer = {
    type: "SRV",
    name: reply.qname,
    ttl: ttlSeconds,
    class: "IN",
    data: { priority: 1, weight, port, target },
  };
  // Sizes from parts already measured: owner, fixed fields, priority/weight/port, target.
  const extraBytes = extra === undefined ? 0 : targetBytes + 10 + (kind === "ipv4" ? 4 : 16);
  return push(reply, record, reply.qnameBytes + 10 + 6 + targetBytes, extra, extraBytes);
}

/** Node address (and, for TXT or ANY, metadata) for `<node>.node.<domain>`. */
function resolveNode(reply: Reply, name: string, lookup: DnsLookup): number {
  const node = lookup.node(name);
  if (node === undefined) return DnsRcode.nameError;
  const qtype = reply.qtype;
  if (qtype === "A" || qtype === "AAAA" || qtype === "ANY") {
    const record = addressRecord(reply.qname, node.address, qtype);
    const full = record !== undefined && !push(reply, record, recordSize(record, reply.qnameBytes));
    if (full) return DnsRcode.noError;
  }
  if (qtype === "TXT" || qtype === "ANY") addMeta(reply, node.node, node.meta, undefined);
  return DnsRcode.noError;
}

/** `<hex>.addr.<domain>`: the IP spelled by the label, NXDOMAIN when it spells none. */
function resolveAddr(reply: Reply, parts: string[]): number {
  const ip = parts.length === 1 ? hexToIp(parts[0]) : undefined;
  if (ip === undefined) return DnsRcode.nameError;
  const record = addressRecord(reply.qname, ip.address, reply.qtype);
  if (record !== undefined) push(reply, record, recordSize(record, reply.qnameBytes));
  return DnsRcode.noError;
}

/**
 * The record answering `qtype` for `address`: A for IPv4 (A or ANY), AAAA for IPv6 (AAAA or ANY),
 * CNAME for a hostname (A, AAAA or ANY); `undefined` when the address has no record of that type.
 */
function addressRecord(name: string, address: string, qtype: string): Answer | undefined {
  const kind = addressKind(address);
  if (kind === "ipv4" && (qtype === "A" || qtype === "ANY")) {
    return { type: "A", name, ttl: ttlSeconds, class: "IN", data: address };
  }
  if (kind === "ipv6" && (qtype === "AAAA" || qtype === "ANY")) {
    return { type: "AAAA", name, ttl: ttlSeconds, class: "IN", data: address };
  }
  if (kind === "hostname" && (qtype === "A" || qtype === "AAAA" || qtype === "ANY")) {
    return { type: "CNAME", name, ttl: ttlSeconds, class: "IN", data: trimDot(address) };
  }
  return undefined;
}

/**
 * Adds one TXT answer per metadata entry of `node` (once per node when `seen` is given): RFC 1464
 * `key=value`, or the bare value for keys starting `rfc1035-` (Consul `encodeKVasRFC1464`).
 * Returns false when the reply is full.
 */
function addMeta(
  reply: Reply,
  node: string,
  meta: Readonly<Record<string, string>>,
  seen: Set<string> | undefined,
): boolean {
  if (seen !== undefined) {
    if (seen.has(node)) return true;
    seen.add(node);
  }
  for (const key in meta) {
    const value = meta[key];
    const text = key.toLowerCase().startsWith("rfc1035-") ? value : rfc1464(key, value);
    const data = chunks255(text);
    const record: Answer = { type: "TXT", name: reply.qname, ttl: ttlSeconds, class: "IN", data };
    if (!push(reply, record, recordSize(record, reply.qnameBytes))) return false;
  }
  return true;
}

/** RFC 1464 §2: backquote "`" and "=" in the key, and its leading and trailing spaces. */
function rfc1464(key: string, value: string): string {
  let escaped = key.replaceAll("`", "``").replaceAll("=", "`=");
  let leading = 0;
  while (leading < escaped.length && escaped.charCodeAt(leading) === 32) leading++;
  let trailing = 0;
  while (
    trailing < escaped.length - leading && escaped.charCodeAt(escaped.length - 1 - trailing) === 32
  ) {
    trailing++;
  }
  if (leading > 0 || trailing > 0) {
    const core = escaped.slice(leading, escaped.length - trailing);
    escaped = "` ".repeat(leading) + core + "` ".repeat(trailing);
  }
  return escaped + "=" + value.replaceAll("`", "``");
}

/** Splits text into character-strings of at most 255 UTF-8 bytes (RFC 1035 §3.3.14). */
function chunks255(text: string): string[] {
  if (utf8Bytes(text) <= 255) return [text];
  const chunks: string[] = [];
  let chunk = "";
  let bytes = 0;
  for (const character of text) {
    const size = utf8Bytes(character);
    if (bytes + size > 255) {
      chunks.push(chunk);
      chunk = "";
      bytes = 0;
    }
    chunk += character;
    bytes += size;
  }
  chunks.push(chunk);
  return chunks;
}

/**
 * Appends `record` (`recordBytes` encoded) to the answers and `extra` (once per name) to the
 * additionals, if both fit the answer count and byte budget. The first answer is always kept, even alone too large, as Consul
 * does; its extra then only if it fits. Returns false when the reply is full: stop adding.
 */
function push(
  reply: Reply,
  record: Answer,
  recordBytes: number,
  extra?: Answer,
  extraBytesIfNew = 0,
): boolean {
  if (reply.answers.length >= reply.answersMax) return false;
  const extraNew = extra !== undefined && reply.extraNames?.has(extra.name) !== true;
  const extraBytes = extraNew ? extraBytesIfNew : 0;
  const fits = reply.bytes + recordBytes + extraBytes <= reply.bytesMax;
  if (!fits && reply.answers.length > 0) return false;
  reply.answers.push(record);
  reply.bytes += recordBytes;
  if (extraNew && (fits || reply.bytes + extraBytes <= reply.bytesMax)) {
    reply.extras.push(extra);
    reply.bytes += extraBytes;
    (reply.extraNames ??= new Set()).add(extra.name);
  }
  return fits;
}

/** Starts a reply with the size budget of the transport (Consul trimUDPResponse/trimTCPResponse). */
function newReply(
  question: Question,
  opt: OptAnswer | undefined,
  options: DnsAnswerOptions,
): Reply {
  let bytesMax = tcpBytesMax;
  if (options.transport === "udp") {
    // The response OPT echoes the client's advertised size, at least 512.
    const advertised = opt === undefined ? 0 : opt.udpPayloadSize;
    bytesMax = Math.min(udpBytesMax, Math.max(udpBytesDefault, advertised));
  }
  let answersMax = question.type === "SRV" ? answersMaxSrv : answersMaxOther;
  if (bytesMax === udpBytesDefault) {
    const limit = options.udpAnswerLimit ?? udpAnswerLimitDefault;
    answersMax = Math.max(1, Math.min(udpAnswerLimitMax, limit));
  }
  const qnameBytes = nameSize(question.name);
  const bytes = headerBytes + qnameBytes + 4 + (opt === undefined ? 0 : optSize(opt));
  return {
    qname: question.name,
    qnameBytes,
    qtype: question.type,
    answers: [],
    authorities: [],
    extras: [],
    opt,
    extraNames: undefined,
    bytes,
    bytesMax,
    answersMax,
  };
}

/** Assembles the response packet; an EDNS query gets an OPT record back (RFC 6891 §7). */
function finish(query: Packet, flags: number, question: Question, reply: Reply): Packet {
  if (reply.opt !== undefined) reply.extras.push(reply.opt);
  return {
    type: "response",
    id: query.id ?? 0,
    flags,
    questions: [question],
    answers: reply.answers,
    authorities: reply.authorities,
    additionals: reply.extras,
  };
}

/** A reply without records (FORMERR, NOTIMP, REFUSED), echoing the question when it can. */
function bareReply(query: Packet, flags: number, question: Question | undefined): Packet {
  return {
    type: "response",
    id: query.id ?? 0,
    flags,
    questions: question === undefined ? [] : [question],
    answers: [],
    authorities: [],
    additionals: [],
  };
}

/** BADVERS for EDNS versions above 0: rcode 16 split between header and OPT (RFC 6891 §6.1.3). */
function badVersionReply(
  query: Packet,
  echoed: number,
  question: Question,
  opt: OptAnswer,
): Packet {
  const reply = bareReply(query, echoed | (DnsRcode.badVersion & 0xf), question);
  reply.additionals = [responseOpt(opt, DnsRcode.badVersion >> 4)];
  return reply;
}

/**
 * The OPT record of a response: the client's UDP size echoed (as Consul `setEDNS`), and its
 * EDNS Client Subnet option echoed with scope 0, meaning the answer holds for every client
 * (RFC 7871 §7.2.1).
 */
function responseOpt(opt: OptAnswer, extendedRcode: number): OptAnswer {
  const options: OptAnswer["options"] = [];
  for (const option of opt.options ?? []) {
    if (option.code !== 8) continue;
    const family = option.family;
    const prefix = option.sourcePrefixLength ?? 0;
    if ((family === 1 && prefix <= 32) || (family === 2 && prefix <= 128)) {
      options.push({
        code: 8,
        family,
        sourcePrefixLength: prefix,
        scopePrefixLength: 0,
        ip: option.ip,
      });
    }
    break;
  }
  return {
    type: "OPT",
    name: ".",
    udpPayloadSize: Math.max(udpBytesDefault, opt.udpPayloadSize),
    extendedRcode,
    ednsVersion: 0,
    flags: 0,
    flag_do: false,
    options,
  };
}

/** The query's OPT pseudo-record, if it has one. */
function findOpt(query: Packet): OptAnswer | undefined {
  const additionals = query.additionals;
  if (additionals === undefined) return undefined;
  for (const record of additionals) {
    if (record !== undefined && record.type === "OPT") return record as OptAnswer;
  }
  return undefined;
}

/** The zone's SOA (Consul `dns_config.soa` defaults): ns and hostmaster under the domain. */
function soaRecord(zone: Zone, serial: number): Answer {
  return {
    type: "SOA",
    name: zone.domain,
    ttl: ttlSeconds,
    class: "IN",
    data: {
      mname: "ns." + zone.domain,
      rname: "hostmaster." + zone.domain,
      serial: serial >>> 0,
      refresh: 3_600,
      retry: 600,
      expire: 86_400,
      minimum: 0,
    },
  };
}

/** Reads the lookup's domain and datacenter into the forms used here, once per change. */
function zoneOf(lookup: DnsLookup): Zone {
  const domainRaw = lookup.domain;
  const datacenterRaw = lookup.datacenter;
  const last = zoneLast;
  if (last !== undefined && last.domainRaw === domainRaw && last.datacenterRaw === datacenterRaw) {
    return last;
  }
  const domain = trimDot(domainRaw.toLowerCase());
  const datacenter = datacenterRaw.toLowerCase();
  const suffix = "." + datacenter + "." + domain;
  const others = new Map<string, Zone>();
  zoneLast = {
    domainRaw,
    datacenterRaw,
    domain,
    dotDomain: "." + domain,
    datacenter,
    suffix,
    others,
  };
  return zoneLast;
}

/**
 * The encoded size of a record, uncompressed, as dns-packet writes it (RFC 1035 §4.1.3), given
 * the size of its owner name.
 */
function recordSize(record: Answer, ownerBytes: number): number {
  const fixed = ownerBytes + 10; // type, class, ttl, rdlength
  switch (record.type) {
    case "A":
      return fixed + 4;
    case "AAAA":
      return fixed + 16;
    case "CNAME":
      return fixed + nameSize(record.data);
    case "SRV":
      return fixed + 6 + nameSize(record.data.target);
    case "SOA":
      return fixed + nameSize(record.data.mname) + nameSize(record.data.rname) + 20;
    case "TXT": {
      let size = fixed;
      for (const text of record.data as string[]) size += 1 + utf8Bytes(text);
      return size;
    }
    default:
      throw new TypeError(`Cannot size record: type "${record.type}" is not built here`);
  }
}

/** The size of an OPT record we send: root name, fixed fields, options (RFC 6891 §6.1.2). */
function optSize(opt: OptAnswer): number {
  let size = 1 + 10;
  for (const option of opt.options) {
    // Only Client Subnet is ever echoed: code, length, family, two prefixes, the address bytes.
    if (option.code === 8) size += 8 + Math.ceil((option.sourcePrefixLength ?? 0) / 8);
  }
  return size;
}

/** The encoded size of a name: labels with length bytes plus the root (RFC 1035 §3.1). */
function nameSize(name: string): number {
  if (name === "." || name === "") return 1;
  const trimmed = trimDot(name);
  return utf8Bytes(trimmed) + 2;
}

/** UTF-8 length of `text` without allocating. */
function utf8Bytes(text: string): number {
  let bytes = text.length;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code < 0xd800 || code > 0xdbff) bytes += 2;
    else {
      index++; // A surrogate pair is 2 UTF-16 units and 4 UTF-8 bytes.
      bytes += 2;
    }
  }
  return bytes;
}

/** Whether every character is 7-bit: such names encode back to the same bytes. */
function isAscii(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    if (text.charCodeAt(index) > 0x7f) return false;
  }
  return true;
}

/** Removes one final dot. */
function trimDot(name: string): string {
  return name.endsWith(".") ? name.slice(0, -1) : name;
}
