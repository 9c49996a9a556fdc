// Goal: shared helpers for the wire tests: the captured serf vectors, hex, a Go-shaped view of
// decoded messages, and AES-GCM through WebCrypto. Method: the Go field names are listed here
// independently of the codecs, so a codec that maps a field to the wrong Go name fails the tests.
import vectorFile from "./testdata/gossip_vectors.json" with { type: "json" };
import { Keyring, type OpenRequest, type SealRequest } from "../../../src/core/wire/mod.ts";

/** One captured message (see testdata/gossip_vectors.json, copied from shared/protocol/vectors). */
export interface Vector {
  name: string;
  transport: "udp" | "tcp";
  hex: string;
  keyBase64?: string;
  layers: Array<Record<string, unknown>>;
  message: Record<string, unknown>;
}

/** The 37 vectors. */
export const vectors = vectorFile.vectors as unknown as Vector[];

/** The capture's keys: key1 first (the -encrypt key), then key2 (installed and used later). */
export const vectorKeys = [vectorFile.keys.key1Base64, vectorFile.keys.key2Base64].map(fromBase64);

/** Bytes from hex. */
export function fromHex(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** Hex from bytes. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Bytes from base64. */
export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

/** A keyring holding the capture's keys with `primary` first. */
export function vectorKeyring(primaryBase64: string): Keyring {
  return new Keyring(vectorKeys, fromBase64(primaryBase64));
}

const goNames: Record<string, string> = {
  sequence: "SeqNo",
  node: "Node",
  sourceAddress: "SourceAddr",
  sourcePort: "SourcePort",
  sourceNode: "SourceNode",
  target: "Target",
  port: "Port",
  nack: "Nack",
  payload: "Payload",
  incarnation: "Incarnation",
  from: "From",
  address: "Addr",
  meta: "Meta",
  versions: "Vsn",
  name: "Name",
  state: "State",
  error: "Error",
  lamportTime: "LTime",
  prune: "Prune",
  coalesce: "CC",
  id: "ID",
  filters: "Filters",
  flags: "Flags",
  relayFactor: "RelayFactor",
  timeoutNs: "Timeout",
  statusLamportTimes: "StatusLTimes",
  leftMembers: "LeftMembers",
  eventLamportTime: "EventLTime",
  events: "Events",
  queryLamportTime: "QueryLTime",
  destAddress: "DestAddr",
  destName: "DestName",
  ip: "IP",
  zone: "Zone",
  tags: "Tags",
  status: "Status",
  protocolMin: "ProtocolMin",
  protocolMax: "ProtocolMax",
  protocolCur: "ProtocolCur",
  delegateMin: "DelegateMin",
  delegateMax: "DelegateMax",
  delegateCur: "DelegateCur",
  key: "Key",
  keys: "Keys",
  result: "Result",
  message: "Message",
  primaryKey: "PrimaryKey",
  vec: "Vec",
  adjustment: "Adjustment",
  height: "Height",
};

/**
 * Renders a decoded value the way the vector file does: Go field names, `[]byte` as "0x<hex>",
 * nil as null, maps as objects. Drops `type` and fields listed in `omitZero` when zero/empty.
 */
export function toGoForm(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (value instanceof Uint8Array) return `0x${toHex(value)}`;
  if (value instanceof Map) {
    return Object.fromEntries([...value].map(([key, entry]) => [key, toGoForm(entry)]));
  }
  if (Array.isArray(value)) return value.map(toGoForm);
  if (typeof value === "object") {
    const result: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(value)) {
      if (key === "type") continue;
      const goName = goNames[key];
      if (goName === undefined) throw new Error(`No Go name for "${key}"`);
      result[goName] = toGoForm(entry);
    }
    return sortKeys(result);
  }
  return value;
}

/** Returns a copy with keys in sorted order (deepStrictEqual ignores order; this aids diffs). */
export function sortKeys(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Removes keys the vector file adds beside Go's fields (`tagsDecoded`). */
export function withoutAnnotations(record: Record<string, unknown>): Record<string, unknown> {
  const { tagsDecoded: _tags, ...rest } = record;
  return rest;
}

async function importKey(key: Uint8Array, usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
  return await crypto.subtle.importKey("raw", key as BufferSource, "AES-GCM", false, [usage]);
}

/** Does what a shell does with a `SealRequest`: AES-GCM seal through WebCrypto. */
export async function seal(request: SealRequest): Promise<Uint8Array> {
  const sealed = await crypto.subtle.encrypt(
    {
      name: "AES-GCM",
      iv: request.nonce as BufferSource,
      additionalData: request.additionalData as BufferSource,
    },
    await importKey(request.key, "encrypt"),
    request.plaintext as BufferSource,
  );
  return new Uint8Array(sealed);
}

/** Does what a shell does with an `OpenRequest`: tries each key; `undefined` if none opens it. */
export async function open(request: OpenRequest): Promise<Uint8Array | undefined> {
  for (const key of request.keys) {
    try {
      const opened = await crypto.subtle.decrypt(
        {
          name: "AES-GCM",
          iv: request.nonce as BufferSource,
          additionalData: request.additionalData as BufferSource,
        },
        await importKey(key, "decrypt"),
        request.sealed as BufferSource,
      );
      return new Uint8Array(opened);
    } catch {
      // Not this key (OperationError): try the next, as memberlist's decryptPayload does.
    }
  }
  return undefined;
}
