// Goal: an HTTP check grades responses as Consul's CheckHTTP (2xx passing, 429 warning, other
// statuses, network errors and timeouts critical), sends the method, headers and body asked for,
// writes Consul's "HTTP GET <url>: 200 OK Output: <body>" output with the body cut to the cap,
// and, as a running check, polls on its interval until stopped. Method: a node:http server on
// 127.0.0.1 with one route per behaviour, a port with no listener, the runtime chosen by
// detectRuntime(), and generous time bounds.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { detectRuntime } from "../../../runtimes/mod.ts";
import { HttpCheck, probeHttp } from "../../../src/agent/checks/http_check.ts";
import { sleep, UpdateRecorder } from "./_helpers.ts";

const runtime = await detectRuntime();
let server: Server;
let base = "";
let closedPort = 0;
const pendingTimers = new Set<ReturnType<typeof setTimeout>>();

function later(ms: number, fire: () => void): void {
  const timer = setTimeout(() => {
    pendingTimers.delete(timer);
    fire();
  }, ms);
  pendingTimers.add(timer);
}

function route(request: IncomingMessage, response: ServerResponse): void {
  const path = new URL(request.url ?? "/", "http://x").pathname;
  switch (path) {
    case "/ok":
      response.writeHead(200, { "content-type": "text/plain" }).end("healthy");
      return;
    case "/busy":
      response.writeHead(429).end("slow down");
      return;
    case "/fail":
      response.writeHead(503).end("down for maintenance");
      return;
    case "/slow":
      later(3_000, () => response.writeHead(200).end("too late"));
      return;
    case "/big":
      response.writeHead(200).end("x".repeat(100_000));
      return;
    case "/utf8":
      response.writeHead(200).end("é".repeat(3_000));
      return;
    case "/endless": {
      // 16 KB at once, then a trickle that never ends: the check must not wait for the end.
      response.writeHead(200);
      response.write("y".repeat(16_384));
      const trickle = () => {
        if (response.destroyed || response.writableEnded) return;
        response.write("z");
        later(50, trickle);
      };
      later(50, trickle);
      return;
    }
    case "/redirect":
      response.writeHead(302, { location: "/ok" }).end();
      return;
    case "/echo": {
      const chunks: Uint8Array[] = [];
      request.on("data", (chunk: Uint8Array) => chunks.push(chunk));
      request.on("end", () => {
        response.writeHead(200).end(JSON.stringify({
          method: request.method,
          token: request.headers["x-token"],
          userAgent: request.headers["user-agent"],
          accept: request.headers["accept"],
          body: Buffer.concat(chunks).toString("utf8"),
        }));
      });
      return;
    }
    default:
      response.writeHead(404).end("no such route");
  }
}

before(async () => {
  server = createServer(route);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  base = `http://127.0.0.1:${address.port}`;
  // A port that was just free: nothing listens there.
  const probe = createTcpServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

after(async () => {
  for (const timer of pendingTimers) clearTimeout(timer);
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test("probeHttp() grades 200 as passing with Consul's output", async () => {
  const result = await probeHttp(runtime, { url: `${base}/ok` });
  assert.deepEqual(result, {
    status: "passing",
    output: `HTTP GET ${base}/ok: 200 OK Output: healthy`,
  });
});

test("probeHttp() grades 429 as warning", async () => {
  const result = await probeHttp(runtime, { url: `${base}/busy` });
  assert.equal(result.status, "warning");
  assert.equal(result.output, `HTTP GET ${base}/busy: 429 Too Many Requests Output: slow down`);
});

test("probeHttp() grades 503 and 404 as critical", async () => {
  const unavailable = await probeHttp(runtime, { url: `${base}/fail` });
  assert.equal(unavailable.status, "critical");
  assert.equal(
    unavailable.output,
    `HTTP GET ${base}/fail: 503 Service Unavailable Output: down for maintenance`,
  );
  const missing = await probeHttp(runtime, { url: `${base}/nowhere` });
  assert.equal(missing.status, "critical");
  assert.match(missing.output, /: 404 Not Found Output: no such route$/);
});

test("probeHttp() grades a refused connection as critical", async () => {
  const url = `http://127.0.0.1:${closedPort}/`;
  const result = await probeHttp(runtime, { url, timeoutMs: 2_000 });
  assert.equal(result.status, "critical");
  assert.ok(result.output.startsWith(`HTTP GET ${url}: `), result.output);
});

test("probeHttp() grades a response slower than the timeout as critical, in time", async () => {
  const startedAtMs = performance.now();
  const result = await probeHttp(runtime, { url: `${base}/slow`, timeoutMs: 200 });
  const elapsedMs = performance.now() - startedAtMs;
  assert.equal(result.status, "critical");
  assert.equal(result.output, `HTTP GET ${base}/slow: timed out after 200ms awaiting headers`);
  assert.ok(elapsedMs < 2_000, `took ${elapsedMs} ms`);
});

test("probeHttp() keeps only the first OutputMaxSize bytes of the body", async () => {
  const prefix = `HTTP GET ${base}/big: 200 OK Output: `;
  const capped = await probeHttp(runtime, { url: `${base}/big` });
  assert.equal(capped.output, prefix + "x".repeat(4_096));
  const small = await probeHttp(runtime, { url: `${base}/big`, outputMaxSize: 10 });
  assert.equal(small.output, prefix + "x".repeat(10));
});

test("probeHttp() never splits a character at the cap", async () => {
  const result = await probeHttp(runtime, { url: `${base}/utf8`, outputMaxSize: 4_095 });
  const body = result.output.slice(result.output.indexOf("Output: ") + 8);
  assert.equal(body, "é".repeat(2_047));
});

test("probeHttp() stops reading an endless body at the cap instead of waiting", async () => {
  const startedAtMs = performance.now();
  const result = await probeHttp(runtime, { url: `${base}/endless`, timeoutMs: 5_000 });
  const elapsedMs = performance.now() - startedAtMs;
  assert.equal(result.status, "passing");
  assert.ok(result.output.endsWith("y".repeat(4_096)));
  assert.ok(elapsedMs < 2_000, `took ${elapsedMs} ms`);
});

test("probeHttp() sends the method, headers and body, with Consul's defaults", async () => {
  const result = await probeHttp(runtime, {
    url: `${base}/echo`,
    method: "POST",
    header: { "X-Token": ["secret"] },
    body: "ping",
  });
  assert.equal(result.status, "passing");
  const echoed = JSON.parse(result.output.slice(result.output.indexOf("Output: ") + 8));
  assert.deepEqual(echoed, {
    method: "POST",
    token: "secret",
    userAgent: "Consul Health Check",
    accept: "text/plain, text/*, */*",
    body: "ping",
  });
  const custom = await probeHttp(runtime, {
    url: `${base}/echo`,
    header: { "User-Agent": ["mine"] },
  });
  const customEcho = JSON.parse(custom.output.slice(custom.output.indexOf("Output: ") + 8));
  assert.equal(customEcho.method, "GET");
  assert.equal(customEcho.userAgent, "mine");
});

test("probeHttp() follows redirects unless DisableRedirects is set", async () => {
  const followed = await probeHttp(runtime, { url: `${base}/redirect` });
  assert.equal(followed.status, "passing");
  assert.match(followed.output, /200 OK Output: healthy$/);
  const kept = await probeHttp(runtime, { url: `${base}/redirect`, disableRedirects: true });
  assert.equal(kept.status, "critical");
  assert.match(kept.output, /: 302 Found Output: $/);
});

test("probeHttp() grades a malformed URL as critical instead of throwing", async () => {
  const result = await probeHttp(runtime, { url: "not a url" });
  assert.equal(result.status, "critical");
  assert.ok(result.output.startsWith("HTTP GET not a url: "), result.output);
});

test("HttpCheck polls on its interval and stops when told", async () => {
  const recorder = new UpdateRecorder();
  const check = new HttpCheck(runtime, { url: `${base}/ok`, intervalMs: 100 }, recorder.update);
  assert.equal(check.type, "http");
  check.start();
  await recorder.nth(3);
  check.stop();
  const count = recorder.updates.length;
  await sleep(300);
  assert.equal(recorder.updates.length, count, "no update after stop()");
  assert.ok(recorder.updates.every((update) => update.status === "passing"));
  for (let index = 1; index < recorder.updates.length; index += 1) {
    const gapMs = recorder.updates[index].atMs - recorder.updates[index - 1].atMs;
    assert.ok(gapMs >= 95, `runs ${gapMs} ms apart`);
  }
});

test("HttpCheck.stop() during a run drops its result", async () => {
  const recorder = new UpdateRecorder();
  const check = new HttpCheck(
    runtime,
    { url: `${base}/slow`, intervalMs: 100, firstRunDelayMs: 0, timeoutMs: 400 },
    recorder.update,
  );
  check.start();
  await sleep(100);
  check.stop();
  await sleep(500);
  assert.deepEqual(recorder.updates, []);
});
