/**
 * The records the state store keeps. Internal names are camelCase; the HTTP layer renders them
 * with Consul's PascalCase field names.
 *
 * @module
 */

/** Health of one check, as Consul spells it. */
export type HealthStatus = "passing" | "warning" | "critical";

/** Raft-style bookkeeping carried by every record. */
export interface Indexed {
  createIndex: number;
  modifyIndex: number;
}

/** A node in the catalog. */
export interface NodeRecord extends Indexed {
  id: string;
  node: string;
  address: string;
  datacenter: string;
  taggedAddresses: Record<string, string>;
  meta: Record<string, string>;
}

/** A service address with port, as in `TaggedAddresses` of a service. */
export interface ServiceAddress {
  address: string;
  port: number;
}

/** One service instance registered on a node. */
export interface ServiceRecord extends Indexed {
  node: string;
  id: string;
  service: string;
  tags: string[];
  address: string;
  taggedAddresses: Record<string, ServiceAddress>;
  meta: Record<string, string>;
  port: number;
  weights: { passing: number; warning: number };
  enableTagOverride: boolean;
  kind: string;
}

/** The definition of a check as echoed in `HealthCheck.Definition`. */
export interface CheckDefinitionEcho {
  http?: string;
  header?: Record<string, string[]>;
  method?: string;
  body?: string;
  tlsSkipVerify?: boolean;
  tcp?: string;
  intervalMs?: number;
  timeoutMs?: number;
  deregisterCriticalServiceAfterMs?: number;
}

/** A health check on a node, or on one service of it when `serviceId` is not empty. */
export interface CheckRecord extends Indexed {
  node: string;
  checkId: string;
  name: string;
  status: HealthStatus;
  notes: string;
  output: string;
  serviceId: string;
  serviceName: string;
  serviceTags: string[];
  type: string;
  intervalMs: number;
  timeoutMs: number;
  definition: CheckDefinitionEcho;
}

/** KV flags: a uint64, kept exact — a number up to 2^53 - 1, a bigint above. */
export type KvFlags = number | bigint;

/** The largest KV flags value (uint64). */
export const kvFlagsMax: bigint = 0xffff_ffff_ffff_ffffn;

/** One key of the KV store. */
export interface KvRecord extends Indexed {
  key: string;
  value: Uint8Array;
  /** Opaque uint64 (Consul's api.Lock uses 0x2ddccbc058a50c18): a bigint above 2^53 - 1. */
  flags: KvFlags;
  lockIndex: number;
  /** Holder of the lock, or "" when unlocked. */
  session: string;
}

/** What happens to held locks when a session is invalidated. */
export type SessionBehavior = "release" | "delete";

/** A session: a lease that KV locks hang on. */
export interface SessionRecord extends Indexed {
  id: string;
  name: string;
  node: string;
  lockDelayMs: number;
  behavior: SessionBehavior;
  /** Time to live in ms; 0 means none. */
  ttlMs: number;
  nodeChecks: string[];
  serviceChecks: { id: string; namespace: string }[];
}

/** A Vivaldi network coordinate, as Serf and Consul carry it. */
export interface NetworkCoordinate {
  vec: number[];
  error: number;
  adjustment: number;
  height: number;
}

/** The latest network coordinate of one node (Consul's `structs.Coordinate`). */
export interface CoordinateRecord {
  node: string;
  segment: string;
  coord: NetworkCoordinate;
}

/** Names of the tables whose indexes are tracked. */
export type TableName =
  | "nodes"
  | "services"
  | "checks"
  | "kvs"
  | "tombstones"
  | "sessions"
  | "coordinates";
