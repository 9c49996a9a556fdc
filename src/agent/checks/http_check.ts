/**
 * HTTP checks: a request on an interval; 2xx is passing, 429 warning, any other status, a
 * network error or a timeout critical. Output is `HTTP GET <url>: 200 OK Output: <body>`, the
 * body cut to the output cap, as Consul's `checks.CheckHTTP`.
 *
 * @module
 */

import type { Runtime, TimerHandle } from "../../runtime.ts";
import { afterLong } from "./_timers.ts";
import { decodeOutput, errorMessage, statusLine } from "./_output.ts";
import {
  CHECK_OUTPUT_MAX_SIZE_DEFAULT,
  CHECK_TIMEOUT_DEFAULT_MS,
  formatGoDuration,
} from "./check_definition.ts";
import { type CheckResult, IntervalCheck, type IntervalCheckOptions } from "./interval_check.ts";
import type { CheckUpdate } from "./status_handler.ts";

/** What one HTTP check requests. Durations are milliseconds. */
export interface HttpProbeOptions {
  /** The URL requested. */
  url: string;
  /** @default {"GET"} */
  method?: string;
  /** Headers, each with one or more values. @default {{}} */
  header?: Record<string, string[]>;
  /** Request body; not sent with GET or HEAD, which fetch forbids to carry one. @default {""} */
  body?: string;
  /** Time allowed for the response and its body. @default {10000} */
  timeoutMs?: number;
  /** Bytes of the body kept in the output. @default {4096} */
  outputMaxSize?: number;
  /** Do not follow redirects. @default {false} */
  disableRedirects?: boolean;
  /** Skip TLS certificate checks; honoured on Bun only (its fetch's `tls` option). */
  tlsSkipVerify?: boolean;
}

/** Options of an {@link HttpCheck}: the request and the schedule. */
export interface HttpCheckOptions extends HttpProbeOptions, IntervalCheckOptions {}

/** Consul's `checks.UserAgent`. */
const USER_AGENT = "Consul Health Check";

/** An HTTP check on an interval (see {@link probeHttp} for one run). */
export class HttpCheck extends IntervalCheck {
  /** Which kind of check this is. */
  readonly type = "http";
  readonly #options: HttpCheckOptions;

  /**
   * @param runtime fetch, timers and random bytes
   * @param options the request and the schedule
   * @param update receives results that pass the thresholds
   */
  constructor(runtime: Runtime, options: HttpCheckOptions, update: CheckUpdate) {
    super(runtime, update, options);
    this.#options = options;
  }

  /** Makes one request. */
  protected probe(signal: AbortSignal): Promise<CheckResult> {
    return probeHttp(this.runtime, this.#options, signal);
  }
}

/**
 * Makes one HTTP check request and grades it. Never rejects: failures are critical results.
 *
 * @param runtime fetch and timers
 * @param options the request
 * @param signal aborts the request (the result is then critical)
 * @returns the status and Consul-style output
 */
export async function probeHttp(
  runtime: Runtime,
  options: HttpProbeOptions,
  signal?: AbortSignal,
): Promise<CheckResult> {
  const method = options.method || "GET";
  const timeoutMs = options.timeoutMs || CHECK_TIMEOUT_DEFAULT_MS;
  const outputMaxSize = options.outputMaxSize || CHECK_OUTPUT_MAX_SIZE_DEFAULT;
  const prefix = `HTTP ${method} ${options.url}`;
  const controller = new AbortController();
  let timedOut = false;
  const abort = () => controller.abort();
  signal?.addEventListener("abort", abort, { once: true });
  if (signal?.aborted) abort();
  const timer: TimerHandle = afterLong(runtime.timers, timeoutMs, () => {
    timedOut = true;
    controller.abort();
  });
  try {
    let response: Response;
    try {
      response = await runtime.fetch(options.url, requestInit(options, method, controller.signal));
    } catch (error) {
      const reason = timedOut
        ? `timed out after ${formatGoDuration(timeoutMs)} awaiting headers`
        : errorMessage(error);
      return { status: "critical", output: `${prefix}: ${reason}` };
    }
    const body = await readCapped(response, outputMaxSize);
    const output = `${prefix}: ${statusLine(response.status, response.statusText)} Output: ${body}`;
    if (response.status >= 200 && response.status <= 299) return { status: "passing", output };
    // 429 Too Many Requests (RFC 6585): the service is up but shedding load.
    if (response.status === 429) return { status: "warning", output };
    return { status: "critical", output };
  } finally {
    timer.cancel();
    signal?.removeEventListener("abort", abort);
  }
}

function requestInit(options: HttpProbeOptions, method: string, signal: AbortSignal): RequestInit {
  const headers = new Headers();
  for (const [name, values] of Object.entries(options.header ?? {})) {
    for (const value of values) headers.append(name, value);
  }
  if (!headers.has("user-agent")) headers.set("user-agent", USER_AGENT);
  if (!headers.has("accept")) headers.set("accept", "text/plain, text/*, */*");
  const upper = method.toUpperCase();
  const init: RequestInit & { tls?: { rejectUnauthorized: boolean } } = {
    method,
    headers,
    signal,
    redirect: options.disableRedirects ? "manual" : "follow",
    body: options.body && upper !== "GET" && upper !== "HEAD" ? options.body : undefined,
  };
  // Bun's fetch reads `tls`; the others ignore the unknown option (and verify as usual).
  if (options.tlsSkipVerify) init.tls = { rejectUnauthorized: false };
  return init;
}

/**
 * Reads at most `bytesMax` bytes of the body, then cancels the rest, so a huge or endless body
 * costs neither memory nor time. A read error (the timeout, a reset) keeps what was read, as
 * Consul's `io.Copy` into a bounded buffer does.
 */
async function readCapped(response: Response, bytesMax: number): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const buffer = new Uint8Array(bytesMax);
  let length = 0;
  try {
    while (length < bytesMax) {
      const chunk = await reader.read();
      if (chunk.done) break;
      const take = Math.min(chunk.value.length, bytesMax - length);
      buffer.set(chunk.value.subarray(0, take), length);
      length += take;
    }
  } catch {
    // Keep the bytes read before the error.
  } finally {
    reader.cancel().catch(() => {});
  }
  return decodeOutput(buffer.subarray(0, length), bytesMax);
}
