/**
 * Command-line flags spelled as Consul spells them. Consul's CLI uses Go's `flag` package: long
 * flags take one dash (`-data-dir=/x`, `-retry-join 1.2.3.4`), parsing stops at the first
 * argument that is not a flag, and booleans take a value only after `=` (`-ui=false`). This module
 * normalises such arguments (accepting `--long` too) into `--name=value` tokens and lets
 * `node:util` `parseArgs` collect them, so repeated flags become arrays.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** How one flag is spelled and what it takes. */
export interface FlagSpec {
  /** `boolean` takes no value or `=true`/`=false`; the others take `=value` or the next argument. */
  type: "boolean" | "string" | "integer";
  /** One line (or a few sentences) for the usage text. */
  description: string;
  /** Collect every occurrence into an array; otherwise the last one wins (Go's `flag`). */
  multiple?: boolean;
  /** Shown in usage as `-name=<placeholder>`. @default {"<value>"} */
  placeholder?: string;
  /** Smallest accepted integer. */
  min?: number;
  /** Largest accepted integer. */
  max?: number;
  /** This flag is another spelling of the named flag; its values collect under that name. */
  aliasOf?: string;
}

/** Flags a command accepts, by name without dashes. */
export type FlagSpecs = Record<string, FlagSpec>;

/** Thrown for a usage error (exit code 2), or with `helpRequested` for `-h`/`-help`/`--help`. */
export class FlagError extends Error {
  override name = "FlagError";
  /** True when the user asked for help rather than made a mistake. */
  readonly helpRequested: boolean;

  /**
   * @param message the one-line reason, "Cannot <action>: <state>"
   * @param options `helpRequested` for a help request
   */
  constructor(message: string, options: { helpRequested?: boolean } = {}) {
    super(message);
    this.helpRequested = options.helpRequested ?? false;
  }
}

/** One flag occurrence, in command-line order, with aliases resolved to their target name. */
export interface FlagOccurrence {
  name: string;
  value: string | number | boolean;
}

/** The flags given on a command line, typed by their specs, and the remaining arguments. */
export class Flags {
  readonly #values: Map<string, Array<string | number | boolean>>;
  readonly #occurrences: FlagOccurrence[];
  /** Arguments after the flags (from the first non-flag argument, or after `--`). */
  readonly positionals: string[];

  /**
   * @param occurrences every flag given, in order, already typed
   * @param positionals the arguments left after the flags
   */
  constructor(occurrences: FlagOccurrence[], positionals: string[]) {
    this.#occurrences = occurrences;
    this.positionals = positionals;
    this.#values = new Map();
    for (const { name, value } of occurrences) {
      const list = this.#values.get(name) ?? [];
      list.push(value);
      this.#values.set(name, list);
    }
  }

  /** Whether `name` was given at least once. */
  has(name: string): boolean {
    return this.#values.has(name);
  }

  /** The last value of boolean flag `name`, or `fallback` when it was not given. */
  boolean(name: string, fallback = false): boolean {
    const value = this.#last(name);
    return typeof value === "boolean" ? value : fallback;
  }

  /** The last value of string flag `name`, or `undefined` when it was not given. */
  string(name: string): string | undefined {
    const value = this.#last(name);
    return typeof value === "string" ? value : undefined;
  }

  /** The last value of integer flag `name`, or `undefined` when it was not given. */
  integer(name: string): number | undefined {
    const value = this.#last(name);
    return typeof value === "number" ? value : undefined;
  }

  /** Every value of string flag `name`, in order (an empty array when it was not given). */
  strings(name: string): string[] {
    return (this.#values.get(name) ?? []).filter((value) => typeof value === "string");
  }

  /** Every flag occurrence in command-line order (for flags whose relative order matters). */
  occurrences(): FlagOccurrence[] {
    return [...this.#occurrences];
  }

  #last(name: string): string | number | boolean | undefined {
    const list = this.#values.get(name);
    return list === undefined ? undefined : list[list.length - 1];
  }
}

// Go's strconv.ParseBool, which Consul's boolean flags use.
const trueWords = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const falseWords = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/**
 * Parses `args` against `specs` with Go `flag` semantics: flags come first and parsing stops at the
 * first non-flag argument or after `--`; `-name` and `--name` are the same flag.
 *
 * @param args the arguments after the command name
 * @param specs the flags the command accepts
 * @returns the typed flags and the positional arguments
 * @throws {FlagError} for an unknown flag, a missing or bad value, or a help request
 * @example parseFlags(["-data-dir=/x", "-retry-join", "127.0.0.2"], specs).strings("retry-join")
 */
export function parseFlags(args: string[], specs: FlagSpecs): Flags {
  const tokens: string[] = [];
  let index = 0;
  for (; index < args.length; index += 1) {
    const arg = args[index];
    if (arg === "--") {
      index += 1;
      break;
    }
    // Like Go's flag package, the first argument that is not a flag ends the flags, so values
    // that start with a dash can follow a key (`kv put key -value`).
    if (arg === "-" || !arg.startsWith("-")) break;
    const body = arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
    if (body === "" || body.startsWith("-") || body.startsWith("=")) {
      throw new FlagError(`Cannot parse flags: bad flag syntax "${arg}"`);
    }
    const equals = body.indexOf("=");
    const name = equals === -1 ? body : body.slice(0, equals);
    let value = equals === -1 ? undefined : body.slice(equals + 1);
    if (!Object.hasOwn(specs, name)) {
      if (name === "h" || name === "help") {
        throw new FlagError("Cannot run: help requested", { helpRequested: true });
      }
      throw new FlagError(`Cannot parse flags: unknown flag "-${name}"`);
    }
    const spec = specs[name];
    if (spec.type === "boolean") {
      if (value === undefined) value = "true";
      else if (!trueWords.has(value) && !falseWords.has(value)) {
        throw new FlagError(
          `Cannot parse flags: invalid value "${value}" for -${name}: want true or false`,
        );
      }
    } else if (value === undefined) {
      // Go takes the next argument as the value whatever it looks like (`-token -abc`).
      if (index + 1 >= args.length) {
        throw new FlagError(`Cannot parse flags: -${name} needs a value`);
      }
      index += 1;
      value = args[index];
    }
    tokens.push(`--${spec.aliasOf ?? name}=${value}`);
  }
  tokens.push("--", ...args.slice(index));

  const options: Record<string, { type: "string"; multiple: true }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[spec.aliasOf ?? name] = { type: "string", multiple: true };
  }
  const parsed = parseArgs({
    args: tokens,
    options,
    strict: true,
    allowPositionals: true,
    tokens: true,
  });
  const occurrences: FlagOccurrence[] = [];
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== "option" || token.value === undefined) continue;
    const spec = specs[token.name];
    occurrences.push({ name: token.name, value: typeFlagValue(token.name, token.value, spec) });
  }
  return new Flags(occurrences, parsed.positionals);
}

function typeFlagValue(name: string, value: string, spec: FlagSpec): string | number | boolean {
  if (spec.type === "boolean") return trueWords.has(value);
  if (spec.type === "string") return value;
  if (!/^[+-]?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new FlagError(
      `Cannot parse flags: invalid value "${value}" for -${name}: want an integer`,
    );
  }
  const number = Number(value);
  if (spec.min !== undefined && number < spec.min) {
    throw new FlagError(
      `Cannot parse flags: invalid value "${value}" for -${name}: must be at least ${spec.min}`,
    );
  }
  if (spec.max !== undefined && number > spec.max) {
    throw new FlagError(
      `Cannot parse flags: invalid value "${value}" for -${name}: must be at most ${spec.max}`,
    );
  }
  return number;
}

/**
 * Renders flags for a usage text, Consul style: `  -name=<value>` then the description indented.
 *
 * @param specs the flags to list (aliases are listed too, pointing at their target)
 * @returns lines joined with "\n", no final newline
 */
export function formatFlagHelp(specs: FlagSpecs): string {
  const blocks: string[] = [];
  for (const name of Object.keys(specs).sort()) {
    const spec = specs[name];
    const head = spec.type === "boolean"
      ? `  -${name}`
      : `  -${name}=${spec.placeholder ?? "<value>"}`;
    const description = spec.aliasOf === undefined
      ? spec.description
      : `An alias of -${spec.aliasOf}. ${spec.description}`;
    blocks.push([head, ...wrapText(description, 95).map((line) => `     ${line}`)].join("\n"));
  }
  return blocks.join("\n\n");
}

/**
 * Splits `text` into lines of at most `widthMax` characters at spaces (a longer word stays whole).
 *
 * @param text one paragraph
 * @param widthMax the longest line wanted
 * @returns the lines
 */
export function wrapText(text: string, widthMax: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((word) => word !== "")) {
    if (line !== "" && line.length + 1 + word.length > widthMax) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}
