/**
 * A fast encoder for the responses {@link answerDnsQuery} builds, with name compression
 * (RFC 1035 §4.1.4) as Consul sends by default. It knows the record types the answerer emits
 * (A, AAAA, CNAME, SRV, TXT, SOA, OPT with Client Subnet) and throws a `TypeError` for any other,
 * so a caller can fall back to dns-packet's general encoder. Pure: bytes out, no I/O.
 *
 * @module
 */

import type { Answer, Packet, Question } from "dns-packet";
import { ipv4Value, parseIpv4, parseIpv6 } from "./_ip.ts";

/** RR type codes by dns-packet's names (IANA DNS parameters), for echoing any question type. */
const typeCodes: Readonly<Record<string, number>> = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  NULL: 10,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  RP: 17,
  AFSDB: 18,
  SIG: 24,
  KEY: 25,
  AAAA: 28,
  LOC: 29,
  SRV: 33,
  NAPTR: 35,
  KX: 36,
  CERT: 37,
  DNAME: 39,
  OPT: 41,
  APL: 42,
  DS: 43,
  SSHFP: 44,
  IPSECKEY: 45,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  DHCID: 49,
  NSEC3: 50,
  NSEC3PARAM: 51,
  TLSA: 52,
  HIP: 55,
  CDS: 59,
  CDNSKEY: 60,
  SPF: 99,
  TKEY: 249,
  TSIG: 250,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
  CAA: 257,
  TA: 32_768,
  DLV: 32_769,
};

const classCodes: Readonly<Record<string, number>> = { IN: 1, CS: 2, CH: 3, HS: 4, ANY: 255 };

/** The largest message: 65,535 bytes (RFC 1035 §4.2.2), after an optional 2-byte length. */
const messageBytesMax = 65_535;
/** Compression pointers hold 14-bit offsets. */
const pointerOffsetMax = 0x3fff;

/** One scratch buffer for every encode: the function is synchronous, so never re-entered. */
const scratch = new Uint8Array(2 + messageBytesMax + 1_024);
const textEncoder = new TextEncoder();

/** Where the encoder is, and which names it has written where. */
interface Cursor {
  at: number;
  /** Offset of the message in `scratch` (after a TCP length prefix). */
  readonly base: number;
  /**
   * Names written so far, by exact spelling, at their message offset: the question's name and
   * its suffixes (owner names, the SOA's domain), and whole SRV targets (their additionals).
   */
  readonly names: Map<string, number>;
}

/**
 * Encodes a response built by the answerer, compressing repeated names.
 *
 * @param packet a response from {@link answerDnsQuery}
 * @param prefixBytes 2 to start with the message length, as DNS over TCP frames it; else 0
 * @returns a fresh array holding the (framed) message
 * @throws {TypeError} when the packet holds a record type this encoder does not know
 * @throws {RangeError} when the message would exceed 65,535 bytes or a name is not encodable
 */
export function encodeDnsResponse(packet: Packet, prefixBytes: 0 | 2): Uint8Array {
  const cursor: Cursor = { at: prefixBytes + 12, base: prefixBytes, names: new Map() };
  const questions = packet.questions ?? [];
  const answers = packet.answers ?? [];
  const authorities = packet.authorities ?? [];
  const additionals = packet.additionals ?? [];
  writeUint16(prefixBytes, packet.id ?? 0);
  // QR set, then the caller's opcode, AA, TC, RD, RA, Z, AD, CD and RCODE bits (RFC 1035 §4.1.1).
  writeUint16(prefixBytes + 2, 0x8000 | ((packet.flags ?? 0) & 0x7fff));
  writeUint16(prefixBytes + 4, questions.length);
  writeUint16(prefixBytes + 6, answers.length);
  writeUint16(prefixBytes + 8, authorities.length);
  writeUint16(prefixBytes + 10, additionals.length);
  for (const question of questions) writeQuestion(cursor, question, questions.length === 1);
  for (const record of answers) writeRecord(cursor, record);
  for (const record of authorities) writeRecord(cursor, record);
  for (const record of additionals) writeRecord(cursor, record);
  const length = cursor.at - prefixBytes;
  if (length > messageBytesMax) {
    throw new RangeError(`Cannot encode DNS message: ${length} bytes exceed ${messageBytesMax}`);
  }
  if (prefixBytes === 2) writeUint16(0, length);
  return scratch.slice(0, cursor.at);
}

function writeQuestion(cursor: Cursor, question: Question, remember: boolean): void {
  writeName(cursor, question.name, remember ? "suffixes" : "none");
  writeUint16(cursor.at, codeOf(typeCodes, question.type, "type"));
  writeUint16(cursor.at + 2, codeOf(classCodes, question.class ?? "IN", "class"));
  cursor.at += 4;
}

function writeRecord(cursor: Cursor, record: Answer): void {
  if (record.type === "OPT") {
    writeOpt(cursor, record);
    return;
  }
  writeName(cursor, record.name, "none");
  writeUint16(cursor.at, codeOf(typeCodes, record.type, "type"));
  writeUint16(cursor.at + 2, codeOf(classCodes, record.class ?? "IN", "class"));
  writeUint32(cursor.at + 4, record.ttl ?? 0);
  const lengthAt = cursor.at + 8;
  cursor.at += 10;
  switch (record.type) {
    case "A": {
      const value = ipv4Value(record.data);
      if (value < 0) throw new RangeError(`Cannot encode address "${record.data}": not IPv4`);
      writeUint32(cursor.at, value);
      cursor.at += 4;
      break;
    }
    case "AAAA":
      writeAddress(cursor, parseIpv6(record.data), record.data);
      break;
    case "CNAME":
      writeName(cursor, record.data, "none");
      break;
    case "SRV": {
      const srv = record.data;
      writeUint16(cursor.at, srv.priority ?? 0);
      writeUint16(cursor.at + 2, srv.weight ?? 0);
      writeUint16(cursor.at + 4, srv.port);
      cursor.at += 6;
      // Never compressed (RFC 2782), but its additional record's owner name points at it.
      writeName(cursor, srv.target, "whole", false);
      break;
    }
    case "TXT":
      writeTexts(cursor, record.data);
      break;
    case "SOA": {
      const soa = record.data;
      writeName(cursor, soa.mname, "none");
      writeName(cursor, soa.rname, "none");
      for (const value of [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum]) {
        writeUint32(cursor.at, value ?? 0);
        cursor.at += 4;
      }
      break;
    }
    default:
      throw new TypeError(`Cannot encode DNS record: type "${record.type}" is not supported here`);
  }
  writeUint16(lengthAt, cursor.at - lengthAt - 2);
}

/** The OPT pseudo-record (RFC 6891 §6.1.2), with only the Client Subnet option (RFC 7871 §6). */
function writeOpt(cursor: Cursor, record: Extract<Answer, { type: "OPT" }>): void {
  scratch[cursor.at] = 0; // The root name.
  writeUint16(cursor.at + 1, 41);
  writeUint16(cursor.at + 3, record.udpPayloadSize);
  scratch[cursor.at + 5] = record.extendedRcode;
  scratch[cursor.at + 6] = record.ednsVersion;
  writeUint16(cursor.at + 7, record.flags);
  const lengthAt = cursor.at + 9;
  cursor.at += 11;
  for (const option of record.options ?? []) {
    if (option.code !== 8 || option.data !== undefined) {
      throw new TypeError(`Cannot encode EDNS option: code ${option.code} is not supported here`);
    }
    const family = option.family ?? 1;
    const prefix = option.sourcePrefixLength ?? 0;
    const address = option.ip === undefined
      ? undefined
      : family === 1
      ? parseIpv4(option.ip)
      : parseIpv6(option.ip);
    const addressBytes = Math.ceil(prefix / 8);
    if (address === undefined || addressBytes > address.length) {
      throw new RangeError(`Cannot encode Client Subnet: "${option.ip}/${prefix}" is not valid`);
    }
    writeUint16(cursor.at, 8);
    writeUint16(cursor.at + 2, 4 + addressBytes);
    writeUint16(cursor.at + 4, family);
    scratch[cursor.at + 6] = prefix;
    scratch[cursor.at + 7] = option.scopePrefixLength ?? 0;
    cursor.at += 8;
    for (let index = 0; index < addressBytes; index++) scratch[cursor.at++] = address[index];
  }
  writeUint16(lengthAt, cursor.at - lengthAt - 2);
}

/**
 * Writes a name as labels, replacing the longest suffix already written by a pointer when
 * `compress` (RFC 1035 §4.1.4). `remember` says what later names may point at: every suffix
 * (the question's name), the whole name (SRV targets), or nothing, which spares allocations.
 */
function writeName(
  cursor: Cursor,
  name: string,
  remember: "suffixes" | "whole" | "none",
  compress = true,
): void {
  const end = name.endsWith(".") ? name.length - 1 : name.length;
  let start = 0;
  while (start < end) {
    const whole = start === 0;
    const suffix = whole && end === name.length ? name : name.slice(start, end);
    const pointer = compress ? cursor.names.get(suffix) : undefined;
    if (pointer !== undefined) {
      writeUint16(cursor.at, 0xc000 | pointer);
      cursor.at += 2;
      return;
    }
    const offset = cursor.at - cursor.base;
    if (
      (remember === "suffixes" || (remember === "whole" && whole)) && offset <= pointerOffsetMax
    ) {
      if (!cursor.names.has(suffix)) cursor.names.set(suffix, offset);
    }
    let labelEnd = name.indexOf(".", start);
    if (labelEnd < 0 || labelEnd > end) labelEnd = end;
    const length = labelEnd - start;
    if (length === 0 || length > 63) {
      throw new RangeError(`Cannot encode DNS name "${name}": a label is empty or over 63 bytes`);
    }
    scratch[cursor.at++] = length;
    for (let index = start; index < labelEnd; index++) {
      const code = name.charCodeAt(index);
      if (code > 0x7f) throw new RangeError(`Cannot encode DNS name "${name}": it is not ASCII`);
      scratch[cursor.at++] = code;
    }
    start = labelEnd + 1;
  }
  scratch[cursor.at++] = 0;
}

/** TXT rdata: each string as a length byte and up to 255 bytes of UTF-8 (RFC 1035 §3.3.14). */
function writeTexts(cursor: Cursor, data: unknown): void {
  const texts = Array.isArray(data) ? data : [data];
  for (const text of texts) {
    const into = scratch.subarray(cursor.at + 1, Math.min(scratch.length, cursor.at + 1 + 255 * 3));
    const bytes = typeof text === "string"
      ? textEncoder.encodeInto(text, into).written
      : copyBytes(text as Uint8Array, into);
    if (bytes > 255) throw new RangeError(`Cannot encode TXT string: ${bytes} bytes exceed 255`);
    scratch[cursor.at] = bytes;
    cursor.at += 1 + bytes;
  }
}

function copyBytes(bytes: Uint8Array, into: Uint8Array): number {
  into.set(bytes.subarray(0, into.length));
  return bytes.length;
}

function writeAddress(cursor: Cursor, bytes: number[] | undefined, text: string): void {
  if (bytes === undefined) throw new RangeError(`Cannot encode address "${text}": not an IP`);
  for (const byte of bytes) scratch[cursor.at++] = byte;
}

function codeOf(codes: Readonly<Record<string, number>>, name: string, what: string): number {
  const code = codes[name];
  if (code !== undefined) return code;
  // dns-packet spells codes it has no name for as "UNKNOWN_<n>".
  const number = name.startsWith("UNKNOWN_") ? Number(name.slice(8)) : NaN;
  if (Number.isInteger(number) && number >= 0 && number <= 0xffff) return number;
  throw new TypeError(`Cannot encode DNS ${what}: "${name}" is unknown`);
}

function writeUint16(at: number, value: number): void {
  scratch[at] = (value >>> 8) & 0xff;
  scratch[at + 1] = value & 0xff;
}

function writeUint32(at: number, value: number): void {
  scratch[at] = (value >>> 24) & 0xff;
  scratch[at + 1] = (value >>> 16) & 0xff;
  scratch[at + 2] = (value >>> 8) & 0xff;
  scratch[at + 3] = value & 0xff;
}
