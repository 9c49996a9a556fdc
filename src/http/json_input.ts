/**
 * Reading JSON request bodies as Consul does (Go's encoding/json): object keys match field names
 * case-insensitively, snake_case spellings are accepted where the agent accepts them, and unknown
 * fields are ignored. `ciObject` wraps a zod shape with that key matching.
 *
 * @module
 */

import { z } from "zod";
import { concatBytes } from "../core/wire/codec.ts";
import { badRequest, HttpError } from "./http_error.ts";

function foldKey(key: string): string {
  return key.replaceAll("_", "").toLowerCase();
}

/**
 * A zod object whose input keys match `shape`'s keys case-insensitively and ignoring
 * underscores ("service_id", "ServiceID" and "serviceid" all fill `ServiceID`).
 *
 * @param shape the fields, named as Consul names them
 * @returns a schema that tolerates unknown keys
 */
export function ciObject<T extends z.ZodRawShape>(shape: T): z.ZodType<z.infer<z.ZodObject<T>>> {
  const canonical = new Map(Object.keys(shape).map((key) => [foldKey(key), key]));
  return z.preprocess((input) => {
    if (typeof input !== "object" || input === null || Array.isArray(input)) return input;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(input)) {
      const name = canonical.get(foldKey(key));
      if (name !== undefined && !(name in out && key !== name)) out[name] = value;
    }
    return out;
  }, z.object(shape)) as unknown as z.ZodType<z.infer<z.ZodObject<T>>>;
}

/** Parses a request body as JSON; a malformed body is a 400 with the reason. */
export async function readJson(request: Request, bytesMax: number): Promise<unknown> {
  const bytes = await readBody(request, bytesMax);
  if (bytes.length === 0) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw badRequest(`Request decode failed: ${(error as Error).message}`);
  }
}

/** Validates `input` with `schema`; a mismatch is a 400 naming the first bad field. */
export function parseWith<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue.path.length > 0 ? ` at ${issue.path.join(".")}` : "";
  throw badRequest(`Request decode failed: ${what}${path}: ${issue.message}`);
}

/** Reads the body, refusing more than `bytesMax` bytes with a 413. */
export async function readBody(request: Request, bytesMax: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > bytesMax) throw tooLarge(declared, bytesMax);
  const body = await readStreamBounded(request.body, bytesMax);
  if (typeof body === "number") throw tooLarge(body, bytesMax);
  return body;
}

/**
 * Reads a byte stream whole, or stops (and cancels it) once more than `bytesMax` bytes came.
 *
 * @returns the bytes, or the count read when it stopped
 */
export async function readStreamBounded(
  stream: ReadableStream<Uint8Array> | null,
  bytesMax: number,
): Promise<Uint8Array | number> {
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > bytesMax) {
      await reader.cancel();
      return total;
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0] : concatBytes(chunks);
}

function tooLarge(size: number, bytesMax: number): HttpError {
  return new HttpError(413, `Request body(${size} bytes) too large, max size: ${bytesMax} bytes`);
}

/** A map of strings, as Meta and NodeMeta; null becomes empty. */
export const stringMap = z.preprocess(
  (value) => value ?? {},
  z.record(z.string(), z.string()),
);

/** A list of strings; null becomes empty. */
export const stringList = z.preprocess((value) => value ?? [], z.array(z.string()));
