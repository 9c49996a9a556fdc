// A tiny fake of a Consul agent's HTTP API, for testing the CLI's client commands.
//
// Goal: see exactly which requests a command makes, and control what it gets back. Method: a
// node:http server on 127.0.0.1 port 0 (which works on Deno, Bun and Node) records every request
// (method, path with query, token header, content type, body) and answers from a table keyed by
// "METHOD /path?query"; anything not in the table gets a 404 with an empty body. runCairn runs
// the CLI in-process against it on a fake runtime.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Buffer } from "node:buffer";
import { runCli } from "../../src/cli/cli.ts";
import { FakeRuntime } from "./fake_runtime.ts";

/** One request the fake agent received. */
export interface RecordedRequest {
  method: string;
  /** The path and query exactly as sent, e.g. "/v1/kv/a?recurse=". */
  url: string;
  token: string | undefined;
  contentType: string | undefined;
  body: string;
}

/** A canned answer. A non-string body is sent as JSON. */
export interface FakeAnswer {
  status?: number;
  body?: unknown;
}

/** Answers keyed by "METHOD /path?query". */
export type FakeRoutes = Record<string, FakeAnswer>;

/** A running fake agent. */
export interface FakeAgent {
  /** "127.0.0.1:<port>", as -http-addr takes it. */
  readonly address: string;
  readonly requests: RecordedRequest[];
  /** Replaces the answers. */
  setRoutes(routes: FakeRoutes): void;
  close(): Promise<void>;
}

/**
 * Starts a fake agent on 127.0.0.1 with an ephemeral port.
 *
 * @param routes the first answers
 */
export async function startFakeAgent(routes: FakeRoutes = {}): Promise<FakeAgent> {
  let table = routes;
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((request, response) => {
    readBody(request).then((body) => {
      const url = request.url ?? "";
      requests.push({
        method: request.method ?? "",
        url,
        token: header(request, "x-consul-token"),
        contentType: header(request, "content-type"),
        body,
      });
      const answer = table[`${request.method} ${url}`] ?? { status: 404, body: "" };
      const text = typeof answer.body === "string"
        ? answer.body
        : JSON.stringify(answer.body ?? null);
      response.writeHead(answer.status ?? 200, {
        "Content-Type": typeof answer.body === "string" ? "text/plain" : "application/json",
        "Connection": "close",
      });
      response.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    requests,
    setRoutes: (next) => {
      table = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    request.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

/** What one `cairn` run did. */
export interface CairnOutcome {
  code: number;
  stdout: string;
  stderr: string;
  /** "METHOD /path?query" of each request the fake agent received during the run. */
  requests: string[];
}

/**
 * Runs `cairn <args>` in-process against `agent` answering with `routes`. The agent's recorded
 * requests are reset first, so `agent.requests` afterwards holds this run's requests only.
 *
 * @param agent the fake agent, reached through $CONSUL_HTTP_ADDR
 * @param args the command line after `cairn`
 * @param routes the answers for this run
 * @param options more environment, and stdin
 */
export async function runCairn(
  agent: FakeAgent,
  args: string[],
  routes: FakeRoutes,
  options: { env?: Record<string, string>; stdin?: string } = {},
): Promise<CairnOutcome> {
  agent.setRoutes(routes);
  agent.requests.length = 0;
  const runtime = new FakeRuntime({
    env: { CONSUL_HTTP_ADDR: agent.address, ...options.env },
    stdin: options.stdin,
  });
  const code = await runCli(runtime, args);
  return {
    code,
    stdout: runtime.stdout,
    stderr: runtime.stderr,
    requests: agent.requests.map((request) => `${request.method} ${request.url}`),
  };
}
