/**
 * Helpers for the Raft process suites (`test/integration/raft_*_test.ts`): start `cairn agent
 * -server` processes on loopback hosts (default RPC port 8300, gossip off), kill them, write and
 * read keys over HTTP, and wait (bounded) for the servers to agree on a leader.
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AgentProcess, startAgentProcess } from "./agent_process.ts";
import { waitFor } from "./wait_for.ts";

/** How one server process is started. */
export interface ServerStart {
  /** Loopback host (127.0.0.x); the RPC listens on its port 8300. */
  host: string;
  /** Node name. */
  node: string;
  /** Data dir. */
  dataDir: string;
  /** Hosts to `-retry-join` (others' RPC on 8300). */
  join: readonly string[];
  /** `-bootstrap-expect`; 0 (no flag) joins a running cluster. */
  bootstrapExpect: number;
  /** A JSON config file to pass with `-config-file`, if any. */
  configFile?: string;
}

/**
 * Starts one server process.
 *
 * @param start where and how
 * @returns the running process
 */
export function startServer(start: ServerStart): Promise<AgentProcess> {
  return startAgentProcess({
    host: start.host,
    dev: false,
    startTimeoutMs: 40_000,
    args: [
      "-server",
      ...(start.bootstrapExpect > 0 ? [`-bootstrap-expect=${start.bootstrapExpect}`] : []),
      `-data-dir=${start.dataDir}`,
      `-node=${start.node}`,
      "-serf-lan-port=-1",
      ...(start.configFile === undefined ? [] : [`-config-file=${start.configFile}`]),
      ...start.join.filter((other) => other !== start.host).map((other) => `-retry-join=${other}`),
    ],
  });
}

/**
 * Writes a JSON config file.
 *
 * @param dir where
 * @param content the JSON value
 * @returns its path
 */
export function writeConfigFile(dir: string, content: unknown): string {
  const path = join(dir, "raft.json");
  writeFileSync(path, JSON.stringify(content));
  return path;
}

/** SIGKILL, and wait for the exit. */
export async function kill(agent: AgentProcess): Promise<void> {
  const child = agent.child;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.on("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

/** True once the process has exited. */
export function exited(agent: AgentProcess): boolean {
  return agent.child.exitCode !== null || agent.child.signalCode !== null;
}

/** GET a JSON body; throws on any status but 200. */
export async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (response.status !== 200) {
    throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  }
  return await response.json();
}

/** PUT a key; true only when the write was acknowledged. */
export async function putKey(
  agent: AgentProcess,
  key: string,
  value: string,
  timeoutMs = 10_000,
): Promise<boolean> {
  try {
    const response = await fetch(`${agent.httpUrl}/v1/kv/${key}`, {
      method: "PUT",
      body: value,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return response.status === 200 && (await response.text()) === "true";
  } catch {
    return false; // Refused, cut off or timed out: not acknowledged.
  }
}

/** GET a key's raw value in `mode` ("stale", "consistent", "default"); undefined on 404. */
export async function readKey(
  agent: AgentProcess,
  key: string,
  mode: string,
): Promise<string | undefined> {
  const response = await fetch(`${agent.httpUrl}/v1/kv/${key}?raw&${mode}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const body = await response.text();
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw new Error(`GET ${key}?${mode}: ${response.status} ${body}`);
  return body;
}

/** Retries `probe` (errors count as "not yet") until it returns a value or `timeoutMs` pass. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  let last: unknown;
  const attempt = async () => {
    try {
      return await probe();
    } catch (error) {
      last = error;
      return undefined;
    }
  };
  return await waitFor(what, attempt, timeoutMs, () => `; last error: ${last}`);
}

/** The leader ("ip:8300") every server in `running` agrees on, once they do (not `not`). */
export async function agreedLeader(running: AgentProcess[], not = ""): Promise<string> {
  return await eventually(
    async () => {
      const leaders = await Promise.all(
        running.map((agent) => getJson(`${agent.httpUrl}/v1/status/leader`)),
      );
      const first = leaders[0];
      const agreed = typeof first === "string" && first !== "" && first !== not &&
        leaders.every((other) => other === first);
      return agreed ? first as string : undefined;
    },
    20_000,
    "one leader that every server knows",
  );
}

/** One server of `/v1/operator/raft/configuration`. */
export interface RaftConfigurationServer {
  ID: string;
  Node: string;
  Address: string;
  Leader: boolean;
  Voter: boolean;
}

/** The Raft configuration as `agent` reports it. */
export async function raftConfiguration(agent: AgentProcess): Promise<RaftConfigurationServer[]> {
  const body = await getJson(`${agent.httpUrl}/v1/operator/raft/configuration`) as {
    Servers: RaftConfigurationServer[];
  };
  return body.Servers;
}
