/**
 * `cairn kv get|put|delete|export|import`: the key-value store over the HTTP API, with the flags,
 * messages and output formats of Consul's `command/kv/*`.
 *
 * @module
 */

import { z } from "zod";
import { readFileAtPath } from "../agent/config_file.ts";
import { decodeBase64, encodeBase64 } from "../core/base64.ts";
import { parseUint64, quoteLargeIntegers, stringifyJson } from "../http/json_output.ts";
import type { Runtime } from "../runtime.ts";
import { type Command, type CommandContext, errorMessage } from "./command.ts";
import { FlagError, type Flags } from "./flags.ts";
import { createHttpClient, escapePath, type HttpClient } from "./http_client.ts";
import { tabulate } from "./table.ts";

/** A uint64 as a number, or as digits when it was too large for one (see `uint64Fields`). */
const uint64Schema = z.union([z.number().int().min(0), z.string()]).transform((value, context) => {
  const parsed = typeof value === "number" ? value : parseUint64(value);
  if (parsed === undefined) {
    context.addIssue({ code: "custom", message: `${value} is not a uint64` });
    return z.NEVER;
  }
  return parsed;
});

const kvPairSchema = z.object({
  Key: z.string(),
  Value: z.string().nullable().optional(),
  Flags: uint64Schema.optional(),
  CreateIndex: z.number().optional(),
  ModifyIndex: z.number().optional(),
  LockIndex: z.number().optional(),
  Session: z.string().optional(),
});

/** A KV entry as the HTTP API returns it (`Value` is base64 or null). */
export type KvPair = z.infer<typeof kvPairSchema>;

const kvPairsSchema = z.array(kvPairSchema).nullable();

/** One entry of `kv export` output and `kv import` input (Consul's `kvExportEntry`). */
export interface KvExportEntry {
  key: string;
  /** uint64: a bigint above 2^53 - 1. */
  flags: number | bigint;
  /** The value, base64. */
  value: string;
}

const exportEntriesSchema = z.array(z.object({
  key: z.string(),
  flags: uint64Schema.optional(),
  value: z.string(),
}));

/** `cairn kv get`. */
export const kvGetCommand: Command = {
  name: "kv get",
  synopsis: "Retrieves or lists data from the KV store",
  arguments: "[options] [KEY_OR_PREFIX]",
  description: "Prints the value stored at KEY. With -recurse, prints every key and value under " +
    "the prefix as key:value; with -keys, prints the keys only, rolled up at -separator.",
  http: true,
  flags: {
    recurse: { type: "boolean", description: "Print every key under the prefix, with values." },
    keys: {
      type: "boolean",
      description: "Print the keys under the prefix, without values, rolled up at -separator.",
    },
    separator: {
      type: "string",
      placeholder: "<string>",
      description: "With -keys, list only up to the next occurrence of this string. The " +
        'default is "/".',
    },
    detailed: { type: "boolean", description: "Print the metadata of each entry too." },
    base64: { type: "boolean", description: "Print values base64-encoded." },
  },
  run: runKvGet,
};

async function runKvGet(context: CommandContext, flags: Flags): Promise<number> {
  const key = stripLeadingSlash(singleArgument(flags, "KEY"));
  const recurse = flags.boolean("recurse");
  const keys = flags.boolean("keys");
  if (key === "" && !recurse && !keys) {
    throw new FlagError("Cannot get a key: the KEY argument is missing");
  }
  const client = await createHttpClient(context.runtime, flags);
  const base64 = flags.boolean("base64");
  try {
    if (keys) {
      const separator = flags.string("separator") ?? "/";
      const query: Array<[string, string]> = [["keys", ""]];
      if (separator !== "") query.push(["separator", separator]);
      const listed = await client.json("GET", kvPath(key), { query, allowStatuses: [404] });
      for (const name of z.array(z.string()).nullable().parse(listed ?? []) ?? []) {
        context.out(name);
      }
      return 0;
    }
    if (recurse) {
      const pairs = await listPairs(client, key);
      pairs.forEach((pair, index) => {
        if (flags.boolean("detailed")) {
          context.out(formatKvPair(pair, base64));
          if (index < pairs.length - 1) context.out("");
        } else {
          context.out(`${pair.Key}:${formatValue(pair, base64)}`);
        }
      });
      return 0;
    }
    const found = await client.json("GET", kvPath(key), {
      allowStatuses: [404],
      uint64Fields: ["Flags"],
    });
    const pair = found === undefined ? undefined : kvPairsSchema.parse(found)?.[0];
    if (pair === undefined) {
      context.err(`Error! No key exists at: ${key}`);
      return 1;
    }
    context.out(flags.boolean("detailed") ? formatKvPair(pair, base64) : formatValue(pair, base64));
    return 0;
  } catch (error) {
    context.err(`Error querying agent: ${errorMessage(error)}`);
    return 1;
  }
}

/** `cairn kv put`. */
export const kvPutCommand: Command = {
  name: "kv put",
  synopsis: "Sets or updates data in the KV store",
  arguments: "[options] KEY [DATA]",
  description: "Writes DATA at KEY. DATA may be text, @path to read a file, or - to read " +
    "stdin; without DATA the value is empty. With -cas, writes only if the key's modify index " +
    "is -modify-index (0: only if the key does not exist). With -acquire or -release, takes or " +
    "gives up the key's lock for -session.",
  http: true,
  flags: {
    cas: { type: "boolean", description: "Check-and-set: write only at -modify-index." },
    "modify-index": {
      type: "integer",
      min: 0,
      placeholder: "<index>",
      description: "The modify index the key must have, for -cas (0: the key must not exist).",
    },
    flags: {
      type: "integer",
      min: 0,
      placeholder: "<int>",
      description: "An unsigned integer stored with the value, for the application's use.",
    },
    acquire: { type: "boolean", description: "Acquire the key's lock for -session." },
    release: { type: "boolean", description: "Release the key's lock held by -session." },
    session: {
      type: "string",
      placeholder: "<id>",
      description: "The session for -acquire and -release.",
    },
    base64: { type: "boolean", description: "DATA is base64: decode it before writing." },
  },
  run: runKvPut,
};

async function runKvPut(context: CommandContext, flags: Flags): Promise<number> {
  const args = flags.positionals;
  if (args.length === 0) throw new FlagError("Cannot write a key: the KEY argument is missing");
  if (args.length > 2) {
    throw new FlagError(
      `Cannot write a key: too many arguments (expected 1 or 2, got ${args.length})`,
    );
  }
  const key = args[0];
  const cas = flags.boolean("cas");
  const acquire = flags.boolean("acquire");
  const release = flags.boolean("release");
  const session = flags.string("session") ?? "";
  if ([cas, acquire, release].filter(Boolean).length > 1) {
    throw new FlagError("Cannot write a key: use only one of -cas, -acquire and -release");
  }
  if ((acquire || release) && session === "") {
    throw new FlagError("Cannot write a key: -acquire and -release need -session");
  }
  // Consul refuses -cas without a non-zero -modify-index, so it cannot create-if-absent; cairn
  // takes an explicit -modify-index=0 for that, as the HTTP API's ?cas=0 does.
  const modifyIndex = flags.integer("modify-index");
  if (cas && modifyIndex === undefined) {
    throw new FlagError("Cannot write a key: -cas needs -modify-index");
  }
  if (key.startsWith("/")) {
    context.err(`Error! Key must not begin with a '/': ${key}`);
    return 1;
  }
  let value: Uint8Array;
  try {
    value = await readData(context.runtime, args[1] ?? "");
  } catch (error) {
    context.err(`Error! ${errorMessage(error)}`);
    return 1;
  }
  if (flags.boolean("base64")) {
    try {
      value = decodeBase64(new TextDecoder().decode(value).trim());
    } catch (error) {
      context.err(`Error! Cannot base 64 decode data: ${errorMessage(error)}`);
      return 1;
    }
  }
  const query: Array<[string, string]> = [];
  const flagsValue = flags.integer("flags") ?? 0;
  if (flagsValue !== 0) query.push(["flags", String(flagsValue)]);
  if (cas) query.push(["cas", String(modifyIndex)]);
  if (acquire) query.push(["acquire", session]);
  if (release) query.push(["release", session]);
  const client = await createHttpClient(context.runtime, flags);
  let written: boolean;
  try {
    written = (await client.json("PUT", kvPath(key), { query, body: value })) === true;
  } catch (error) {
    context.err(
      cas
        ? `Error! Did not write to ${key}: ${errorMessage(error)}`
        : `Error! Failed writing data: ${errorMessage(error)}`,
    );
    return 1;
  }
  if (cas) {
    return report(
      context,
      written,
      `Success! Data written to: ${key}`,
      `Error! Did not write to ${key}: CAS failed`,
    );
  }
  if (acquire) {
    return report(
      context,
      written,
      `Success! Lock acquired on: ${key}`,
      "Error! Did not acquire lock",
    );
  }
  if (release) {
    return report(
      context,
      written,
      `Success! Lock released on: ${key}`,
      "Error! Did not release lock",
    );
  }
  context.out(`Success! Data written to: ${key}`);
  return 0;
}

/** `cairn kv delete`. */
export const kvDeleteCommand: Command = {
  name: "kv delete",
  synopsis: "Removes data from the KV store",
  arguments: "[options] KEY_OR_PREFIX",
  description: "Removes the value at KEY; with -recurse, every key under the prefix. With " +
    "-cas, removes the key only if its modify index is -modify-index.",
  http: true,
  flags: {
    recurse: { type: "boolean", description: "Delete every key under the prefix." },
    cas: { type: "boolean", description: "Delete only at -modify-index." },
    "modify-index": {
      type: "integer",
      min: 0,
      placeholder: "<index>",
      description: "The modify index the key must have, for -cas.",
    },
  },
  run: runKvDelete,
};

async function runKvDelete(context: CommandContext, flags: Flags): Promise<number> {
  const key = stripLeadingSlash(singleArgument(flags, "KEY"));
  const recurse = flags.boolean("recurse");
  const cas = flags.boolean("cas");
  const modifyIndex = flags.integer("modify-index");
  if (key === "" && !recurse) {
    throw new FlagError("Cannot delete a key: the KEY argument is missing");
  }
  if (cas && modifyIndex === undefined) {
    throw new FlagError("Cannot delete a key: -cas needs -modify-index");
  }
  if (!cas && modifyIndex !== undefined) {
    throw new FlagError("Cannot delete a key: -modify-index needs -cas");
  }
  if (cas && recurse) throw new FlagError("Cannot delete a key: use -cas or -recurse, not both");
  const client = await createHttpClient(context.runtime, flags);
  if (recurse) {
    try {
      await client.send("DELETE", kvPath(key), { query: [["recurse", ""]] });
    } catch (error) {
      context.err(`Error! Did not delete prefix ${key}: ${errorMessage(error)}`);
      return 1;
    }
    context.out(`Success! Deleted keys with prefix: ${key}`);
    return 0;
  }
  if (cas) {
    let deleted: boolean;
    try {
      const query: Array<[string, string]> = [["cas", String(modifyIndex)]];
      deleted = (await client.json("DELETE", kvPath(key), { query })) === true;
    } catch (error) {
      context.err(`Error! Did not delete key ${key}: ${errorMessage(error)}`);
      return 1;
    }
    return report(
      context,
      deleted,
      `Success! Deleted key: ${key}`,
      `Error! Did not delete key ${key}: CAS failed`,
    );
  }
  try {
    await client.send("DELETE", kvPath(key));
  } catch (error) {
    context.err(`Error deleting key ${key}: ${errorMessage(error)}`);
    return 1;
  }
  context.out(`Success! Deleted key: ${key}`);
  return 0;
}

/** `cairn kv export`. */
export const kvExportCommand: Command = {
  name: "kv export",
  synopsis: "Exports a tree from the KV store as JSON",
  arguments: "[options] [PREFIX]",
  description: 'Prints every key under PREFIX as a JSON array of {"key", "flags", "value"} ' +
    "with base64 values, which kv import reads back.",
  http: true,
  flags: {},
  run: runKvExport,
};

async function runKvExport(context: CommandContext, flags: Flags): Promise<number> {
  const prefix = stripLeadingSlash(singleArgument(flags, "PREFIX"));
  const client = await createHttpClient(context.runtime, flags);
  let pairs: KvPair[];
  try {
    pairs = await listPairs(client, prefix);
  } catch (error) {
    context.err(`Error querying agent: ${errorMessage(error)}`);
    return 1;
  }
  const entries: KvExportEntry[] = pairs.map((pair) => ({
    key: pair.Key,
    flags: pair.Flags ?? 0,
    value: pair.Value ?? "",
  }));
  context.out(formatGoJson(entries));
  return 0;
}

/** `cairn kv import`. */
export const kvImportCommand: Command = {
  name: "kv import",
  synopsis: "Imports a tree stored as JSON into the KV store",
  arguments: "[options] DATA",
  description: "Writes every entry of DATA, the JSON kv export prints. DATA may be the JSON " +
    "itself, @path to read a file, or - to read stdin.",
  http: true,
  flags: {
    prefix: {
      type: "string",
      placeholder: "<prefix>",
      description: "Put this before every imported key.",
    },
  },
  run: runKvImport,
};

async function runKvImport(context: CommandContext, flags: Flags): Promise<number> {
  const args = flags.positionals;
  if (args.length > 1) {
    throw new FlagError(`Cannot import: too many arguments (expected 1, got ${args.length})`);
  }
  if (args.length === 0) throw new FlagError("Cannot import: the DATA argument is missing");
  let entries: z.infer<typeof exportEntriesSchema>;
  try {
    const data = await readData(context.runtime, args[0]);
    const text = quoteLargeIntegers(new TextDecoder().decode(data), ["flags"]);
    entries = exportEntriesSchema.parse(JSON.parse(text));
  } catch (error) {
    const reason = error instanceof z.ZodError
      ? `want a JSON array of {"key", "flags", "value"} (${error.issues[0]?.message})`
      : errorMessage(error);
    context.err(`Cannot unmarshal data: ${reason}`);
    return 1;
  }
  const prefix = flags.string("prefix") ?? "";
  const client = await createHttpClient(context.runtime, flags);
  for (const entry of entries) {
    const key = prefix + entry.key;
    let value: Uint8Array;
    try {
      value = decodeBase64(entry.value);
    } catch (error) {
      context.err(`Error base 64 decoding value for key ${entry.key}: ${errorMessage(error)}`);
      return 1;
    }
    const query: Array<[string, string]> = [];
    if ((entry.flags ?? 0) !== 0) query.push(["flags", String(entry.flags)]);
    try {
      await client.send("PUT", kvPath(key), { query, body: value });
    } catch (error) {
      context.err(`Error! Failed writing data for key ${key}: ${errorMessage(error)}`);
      return 1;
    }
    context.out(`Imported: ${key}`);
  }
  return 0;
}

/**
 * Renders a KV entry as `kv get -detailed` does (Consul's `prettyKVPair`).
 *
 * @param pair the entry
 * @param base64 print the value base64-encoded
 * @returns the lines, no final newline
 */
export function formatKvPair(pair: KvPair, base64: boolean): string {
  return tabulate([
    ["CreateIndex", String(pair.CreateIndex ?? 0)],
    ["Flags", String(pair.Flags ?? 0)],
    ["Key", pair.Key],
    ["LockIndex", String(pair.LockIndex ?? 0)],
    ["ModifyIndex", String(pair.ModifyIndex ?? 0)],
    ["Session", pair.Session === undefined || pair.Session === "" ? "-" : pair.Session],
    ["Value", formatValue(pair, base64)],
  ]);
}

/**
 * Renders a value as JSON the way Go's `json.MarshalIndent(value, "", "\t")` does, including its
 * escaping of `<`, `>`, `&`, U+2028 and U+2029.
 *
 * @param value plain JSON data
 * @returns the JSON text
 */
export function formatGoJson(value: unknown): string {
  return stringifyJson(value, "\t").replace(
    /[<>&\u2028\u2029]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

async function listPairs(client: HttpClient, prefix: string): Promise<KvPair[]> {
  const listed = await client.json("GET", kvPath(prefix), {
    query: [["recurse", ""]],
    allowStatuses: [404],
    uint64Fields: ["Flags"],
  });
  return listed === undefined ? [] : kvPairsSchema.parse(listed) ?? [];
}

function formatValue(pair: KvPair, base64: boolean): string {
  const encoded = pair.Value ?? "";
  if (base64) return encodeBase64(decodeBase64(encoded));
  return new TextDecoder().decode(decodeBase64(encoded));
}

/**
 * Reads a DATA argument as Consul does: `@path` is a file, `-` is stdin, anything else the value.
 *
 * @param runtime for files and stdin
 * @param text the argument
 * @returns the bytes
 */
export async function readData(runtime: Runtime, text: string): Promise<Uint8Array> {
  if (text.startsWith("@")) {
    const path = text.slice(1);
    let bytes: Uint8Array | undefined;
    try {
      bytes = await readFileAtPath(runtime, path);
    } catch (error) {
      throw new TypeError(`Failed to read file: ${errorMessage(error)}`);
    }
    if (bytes === undefined) throw new TypeError(`Failed to read file: "${path}" does not exist`);
    return bytes;
  }
  if (text === "-") return await runtime.readStdin();
  return new TextEncoder().encode(text);
}

function singleArgument(flags: Flags, name: string): string {
  const args = flags.positionals;
  if (args.length > 1) {
    throw new FlagError(
      `Cannot use the arguments: too many (expected one ${name}, got ${args.length})`,
    );
  }
  return args[0] ?? "";
}

// Keys cannot start with "/", but users write "/foo"; Consul strips it for them.
function stripLeadingSlash(key: string): string {
  return key.startsWith("/") ? key.slice(1) : key;
}

function kvPath(key: string): string {
  return `/v1/kv/${escapePath(key)}`;
}

function report(context: CommandContext, ok: boolean, success: string, failure: string): number {
  if (ok) context.out(success);
  else context.err(failure);
  return ok ? 0 : 1;
}
