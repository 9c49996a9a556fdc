/**
 * Serf's member snapshot (v0.9.4 `serf/snapshot.go`, gossip-wire.md §11.10), as pure text in
 * and out: an append-only file of lines `alive: <name> <ip:port>`, `not-alive: <name>`,
 * `clock: N`, `event-clock: N`, `query-clock: N`, `leave` and `# comments`. The shell appends
 * what {@link SnapshotRecorder} returns, rewrites the file with {@link encodeSnapshot} when it
 * grows, and on restart feeds {@link decodeSnapshot}'s clocks to `Serf` and joins its nodes.
 *
 * @module
 */

import type { SerfAddress, SerfOutput } from "./messages.ts";

/** What a snapshot file amounts to once replayed. */
export interface SerfSnapshot {
  /** Members last seen alive: name → `ip:port`, in file order. */
  aliveNodes: Map<string, string>;
  /** Member clock last recorded (`clock:`). */
  clock: number;
  /** Event clock last recorded (`event-clock:`). */
  eventClock: number;
  /** Query clock last recorded (`query-clock:`). */
  queryClock: number;
}

/** Returns an empty snapshot. */
export function emptySnapshot(): SerfSnapshot {
  return { aliveNodes: new Map(), clock: 0, eventClock: 0, queryClock: 0 };
}

/**
 * Replays a snapshot file as Serf's `replay`. Unknown lines and bad numbers are skipped and
 * counted. A `leave` line wipes everything before it unless `rejoinAfterLeave`.
 *
 * @example
 * ```ts
 * decodeSnapshot("alive: b 127.0.0.3:7946\nclock: 4\n").aliveNodes; // Map { "b" => "127.0.0.3:7946" }
 * ```
 */
export function decodeSnapshot(
  text: string,
  options: { rejoinAfterLeave?: boolean } = {},
): SerfSnapshot & { skippedLines: number } {
  const snapshot = emptySnapshot();
  let skippedLines = 0;
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    if (line === "leave") {
      if (!options.rejoinAfterLeave) Object.assign(snapshot, emptySnapshot());
      continue;
    }
    if (!replayLine(snapshot, line)) skippedLines += 1;
  }
  return { ...snapshot, skippedLines };
}

const clockPrefixes = [
  ["clock: ", "clock"],
  ["event-clock: ", "eventClock"],
  ["query-clock: ", "queryClock"],
] as const;

function replayLine(snapshot: SerfSnapshot, line: string): boolean {
  if (line.startsWith("alive: ")) {
    const info = line.slice("alive: ".length);
    const space = info.lastIndexOf(" ");
    if (space === -1) return false;
    snapshot.aliveNodes.set(info.slice(0, space), info.slice(space + 1));
    return true;
  }
  if (line.startsWith("not-alive: ")) {
    snapshot.aliveNodes.delete(line.slice("not-alive: ".length));
    return true;
  }
  // Older Serf versions saved coordinates; they are ignored and re-learned.
  if (line.startsWith("coordinate: ")) return true;
  for (const [prefix, field] of clockPrefixes) {
    if (!line.startsWith(prefix)) continue;
    const text = line.slice(prefix.length);
    const value = Number(text);
    if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value)) return false;
    snapshot[field] = value;
    return true;
  }
  return false;
}

/** Writes a compacted snapshot: alive members, then the three clocks (Serf's `compact`). */
export function encodeSnapshot(snapshot: SerfSnapshot): string {
  const lines: string[] = [];
  for (const [name, address] of snapshot.aliveNodes) lines.push(`alive: ${name} ${address}\n`);
  lines.push(`clock: ${snapshot.clock}\n`);
  lines.push(`event-clock: ${snapshot.eventClock}\n`);
  lines.push(`query-clock: ${snapshot.queryClock}\n`);
  return lines.join("");
}

/**
 * Follows the Serf core's outputs and returns the snapshot lines to append, as Serf's
 * `Snapshotter` does; it also keeps the compacted state for {@link encodeSnapshot}.
 *
 * @example
 * ```ts
 * const recorder = new SnapshotRecorder(decodeSnapshot(fileText));
 * for (let output = serf.poll(); output; output = serf.poll()) {
 *   append(recorder.observe(output, serf.clocks().member).join(""));
 * }
 * ```
 */
export class SnapshotRecorder {
  readonly #state: SerfSnapshot;

  /** @param restored the snapshot read at start, or an empty one */
  constructor(restored: SerfSnapshot = emptySnapshot()) {
    this.#state = {
      aliveNodes: new Map(restored.aliveNodes),
      clock: restored.clock,
      eventClock: restored.eventClock,
      queryClock: restored.queryClock,
    };
  }

  /**
   * Returns the lines `output` adds, each ending in `\n`.
   *
   * @param output an output of `Serf.poll()`
   * @param memberClockTime the member clock now (`Serf.clocks().member`)
   */
  observe(output: SerfOutput, memberClockTime: number): string[] {
    const lines: string[] = [];
    const state = this.#state;
    if (output.type === "memberEvent") {
      const { member } = output;
      if (output.event === "join") {
        const address = formatAddress(member);
        state.aliveNodes.set(member.name, address);
        lines.push(`alive: ${member.name} ${address}\n`);
      } else if (output.event === "leave" || output.event === "failed") {
        state.aliveNodes.delete(member.name);
        lines.push(`not-alive: ${member.name}\n`);
      }
      // Serf stores the last clock value that was handed out, not the next one.
      if (memberClockTime - 1 > state.clock) {
        state.clock = memberClockTime - 1;
        lines.push(`clock: ${state.clock}\n`);
      }
    } else if (output.type === "userEvent" && output.lamportTime > state.eventClock) {
      state.eventClock = output.lamportTime;
      lines.push(`event-clock: ${state.eventClock}\n`);
    } else if (output.type === "queryReceived" && output.query.lamportTime > state.queryClock) {
      state.queryClock = output.query.lamportTime;
      lines.push(`query-clock: ${state.queryClock}\n`);
    } else if (output.type === "left") {
      lines.push("leave\n");
    }
    return lines;
  }

  /** Returns the compacted state so far. */
  snapshot(): SerfSnapshot {
    return { ...this.#state, aliveNodes: new Map(this.#state.aliveNodes) };
  }
}

/** Formats an address as Go's `net.UDPAddr.String()`: `1.2.3.4:7946` or `[::1]:7946`. */
export function formatAddress(address: SerfAddress): string {
  const bytes = address.address;
  const mapped = bytes.length === 16 && bytes.slice(0, 10).every((b) => b === 0) &&
    bytes[10] === 0xff && bytes[11] === 0xff;
  if (bytes.length === 4 || mapped) return `${bytes.slice(-4).join(".")}:${address.port}`;
  const groups: number[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  return `[${formatIpv6(groups)}]:${address.port}`;
}

function formatIpv6(groups: number[]): string {
  // RFC 5952 §4.2: the longest run of two or more zero groups becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length;) {
    let j = i;
    while (j < groups.length && groups[j] === 0) j += 1;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hex.join(":");
  const head = hex.slice(0, bestStart).join(":");
  const tail = hex.slice(bestStart + bestLength).join(":");
  return `${head}::${tail}`;
}

/** Parses `1.2.3.4:7946` (IPv4 only; IPv6 entries are left to the shell's resolver). */
export function parseIpv4Address(text: string): SerfAddress | undefined {
  const colon = text.lastIndexOf(":");
  const parts = text.slice(0, colon).split(".");
  const numbers = [...parts, text.slice(colon + 1)];
  if (colon === -1 || parts.length !== 4) return undefined;
  if (!numbers.every((part) => /^[0-9]+$/.test(part) && part.length <= 5)) return undefined;
  const [a, b, c, d, port] = numbers.map(Number);
  if ([a, b, c, d].some((octet) => octet > 255) || port > 65_535) return undefined;
  return { address: Uint8Array.of(a, b, c, d), port };
}
