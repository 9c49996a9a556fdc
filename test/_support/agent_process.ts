/**
 * Starts `cairn agent` as a separate OS process on the runtime running the tests (Deno or Bun),
 * waits until it logs its listening addresses, and stops it. Used by the process and
 * compatibility suites, which must talk to a real agent over real sockets.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const cliMain = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const projectDir = fileURLToPath(new URL("../..", import.meta.url));

/** A running agent process. */
export interface AgentProcess {
  readonly child: ChildProcess;
  readonly httpUrl: string;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly dnsPort: number;
  /** The LAN gossip port (UDP and TCP), or -1 when the agent runs no gossip pool. */
  readonly serfLanPort: number;
  /** Everything the agent wrote to stderr so far. */
  log(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (or signal). */
  stop(graceMs?: number): Promise<number | string | null>;
}

/** How to run a TypeScript entry on the runtime that runs this file. */
export function runtimeCommand(entry: string, args: string[]): [string, string[]] {
  const isDeno = typeof (globalThis as { Deno?: unknown }).Deno === "object";
  return [process.execPath, isDeno ? ["run", "-A", entry, ...args] : ["run", entry, ...args]];
}

/**
 * Starts `cairn agent -dev` bound to `host` with free ports for HTTP, DNS and LAN gossip.
 *
 * @param options loopback host (127.0.0.x), extra agent flags, and `dev: false` to leave out
 *   `-dev` (for a server started with `-server -data-dir=...` in `args`)
 */
export async function startAgentProcess(
  options: { host?: string; args?: string[]; startTimeoutMs?: number; dev?: boolean } = {},
): Promise<AgentProcess> {
  const host = options.host ?? "127.0.0.1";
  const args = [
    "agent",
    ...(options.dev === false ? [] : ["-dev"]),
    `-client=${host}`,
    `-bind=${host}`,
    "-http-port=0",
    "-dns-port=0",
    // Free gossip ports, so agents on one host never collide; `args` may override them.
    "-serf-lan-port=0",
    "-serf-wan-port=0",
    "-log-level=info",
    ...(options.args ?? []),
  ];
  const [command, commandArgs] = runtimeCommand(cliMain, args);
  const child = spawn(command, commandArgs, {
    cwd: projectDir,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  let stderr = "";
  child.stdout?.on("data", (chunk: Uint8Array) => stderr += new TextDecoder().decode(chunk));
  const ready = new Promise<{ http: number; dns: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Cannot start agent: no "running" line in time; log:\n${stderr}`)),
      options.startTimeoutMs ?? 20_000,
    );
    child.stderr?.on("data", (chunk: Uint8Array) => {
      stderr += new TextDecoder().decode(chunk);
      const match = /HTTP [\d.:a-f]+:(\d+), DNS (?:[\d.:a-f]+:(\d+)|off)/.exec(stderr);
      if (match !== null) {
        clearTimeout(timer);
        resolve({ http: Number(match[1]), dns: Number(match[2] ?? -1) });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Cannot start agent: it exited with ${code}; log:\n${stderr}`));
    });
  });
  const ports = await ready;
  const exited = new Promise<number | string | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    child.on("exit", (code, signal) => resolve(code ?? signal));
  });
  return {
    child,
    httpHost: host,
    httpPort: ports.http,
    dnsPort: ports.dns,
    serfLanPort: Number(/gossip: LAN pool on [\d.:a-f]+:(\d+)/.exec(stderr)?.[1] ?? -1),
    httpUrl: `http://${host}:${ports.http}`,
    log: () => stderr,
    async stop(graceMs = 5_000) {
      // process.kill, not child.kill: Deno's child_process reports a signal it sent itself as
      // the cause of exit even when the child then exits 0 on its own.
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * Runs `cairn <args>` to its exit, for commands expected to stop on their own (an agent that
 * refuses to start); kills it with SIGKILL after `timeoutMs`.
 *
 * @param args the CLI arguments
 * @param timeoutMs how long to wait for the exit
 * @returns the exit code (or signal) and everything written to stdout and stderr
 */
export async function runCairnToExit(
  args: string[],
  timeoutMs = 20_000,
): Promise<{ code: number | string | null; stdout: string; stderr: string }> {
  const [command, commandArgs] = runtimeCommand(cliMain, args);
  const child = spawn(command, commandArgs, {
    cwd: projectDir,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Uint8Array) => stdout += new TextDecoder().decode(chunk));
  child.stderr?.on("data", (chunk: Uint8Array) => stderr += new TextDecoder().decode(chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | string | null>((resolve) => {
    child.on("close", (exitCode, signal) => resolve(exitCode ?? signal));
  });
  clearTimeout(timer);
  return { code, stdout, stderr };
}
