// Helpers for the HTTP API tests in this folder: start a quiet dev agent without sockets (or on
// 127.0.0.1 port 0), call it with `fetch`-shaped requests, and wait with deadlines. Private to
// test/http.
import { type RunningAgent, startAgent } from "../../src/agent/agent.ts";
import { type AgentConfig, devAgentConfig } from "../../src/agent/config.ts";
import { Logger } from "../../src/agent/logger.ts";
import { detectRuntime } from "../../runtimes/mod.ts";

/** Starts a dev agent named `node-1` whose logs are dropped; no sockets unless `listen`. */
export async function startTestAgent(
  options: { listen?: boolean; configure?: (config: AgentConfig) => void } = {},
): Promise<RunningAgent> {
  const runtime = await detectRuntime();
  const config = devAgentConfig("node-1");
  config.ports.http = options.listen === true ? 0 : -1;
  config.ports.dns = -1;
  config.ports.serfLan = -1;
  config.logLevel = "error";
  options.configure?.(config);
  const logger = new Logger({ clock: runtime.clock, writeStderr: () => {} }, "error", false);
  return await startAgent(runtime, config, { logger });
}

/** A decoded answer: status, headers, and the body as text and (when it parses) as JSON. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // deno-lint-ignore no-explicit-any
  json: any;
  /** `X-Consul-Index` as a number, or undefined when absent. */
  index: number | undefined;
}

/** Request options: a method and a body (objects are sent as JSON). */
export interface CallOptions {
  method?: string;
  body?: string | Uint8Array | Record<string, unknown> | unknown[];
  headers?: Record<string, string>;
}

/** Calls `agent.fetch` with `http://cairn<path>` and reads the whole answer. */
export async function call(
  agent: RunningAgent,
  path: string,
  options: CallOptions = {},
): Promise<Answer> {
  const request = makeRequest(`http://cairn${path}`, options);
  // The agent's timers never hold the event loop (its host does, as `cairn agent` does), so a
  // blocking query waiting on one would let the test runner end mid-await: hold it here.
  const hold = setInterval(() => {}, 1_000);
  try {
    return await readAnswer(await agent.fetch(request));
  } finally {
    clearInterval(hold);
  }
}

/** Builds a Request; a plain object or array body becomes JSON. */
export function makeRequest(url: string, options: CallOptions = {}): Request {
  const body = options.body;
  let payload: BodyInit | undefined;
  if (typeof body === "string") payload = body;
  else if (body instanceof Uint8Array) payload = body as Uint8Array<ArrayBuffer>;
  else if (body !== undefined) payload = JSON.stringify(body);
  return new Request(url, {
    method: options.method ?? "GET",
    body: payload,
    headers: options.headers,
  });
}

/** Reads a Response into an {@link Answer}. */
export async function readAnswer(response: Response): Promise<Answer> {
  const text = await response.text();
  let json: unknown = undefined;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  const header = response.headers.get("X-Consul-Index");
  return {
    status: response.status,
    headers: response.headers,
    text,
    json,
    index: header === null ? undefined : Number(header),
  };
}

/** PUT with a body; the usual write. */
export function put(
  agent: RunningAgent,
  path: string,
  body?: CallOptions["body"],
): Promise<Answer> {
  return call(agent, path, { method: "PUT", body });
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Milliseconds since an arbitrary origin, for measuring waits. */
export function nowMs(): number {
  return performance.now();
}
