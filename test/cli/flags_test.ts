// Tests of the flag normaliser (src/cli/flags.ts) and of usage errors through runCli.
//
// Goal: Consul's flag spellings parse as Consul parses them (one-dash long flags, `=` and space
// forms, repeated flags, booleans with optional `=true|false`, stop at the first positional), and
// mistakes end with exit code 2, a one-line reason and the usage. Method: parseFlags on argument
// lists with a small spec; runCli in-process on a fake runtime for the exit codes and output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FlagError, type FlagSpecs, parseFlags } from "../../src/cli/flags.ts";
import { runCli } from "../../src/cli/cli.ts";
import { FakeRuntime } from "./fake_runtime.ts";

const specs: FlagSpecs = {
  dev: { type: "boolean", description: "dev" },
  ui: { type: "boolean", description: "ui" },
  "data-dir": { type: "string", description: "data dir" },
  "retry-join": { type: "string", multiple: true, description: "join" },
  join: { type: "string", multiple: true, aliasOf: "retry-join", description: "alias" },
  "bootstrap-expect": { type: "integer", min: 0, description: "count" },
  "http-port": { type: "integer", min: -1, max: 65_535, description: "port" },
};

function parseError(args: string[]): FlagError {
  try {
    parseFlags(args, specs);
  } catch (error) {
    assert.ok(error instanceof FlagError, `not a FlagError: ${error}`);
    return error;
  }
  assert.fail(`parseFlags(${JSON.stringify(args)}) did not throw`);
}

test("parseFlags() takes long flags with one dash or two", () => {
  const flags = parseFlags(["-dev", "--data-dir=/x", "-bootstrap-expect", "3"], specs);
  assert.equal(flags.boolean("dev"), true);
  assert.equal(flags.string("data-dir"), "/x");
  assert.equal(flags.integer("bootstrap-expect"), 3);
  assert.deepEqual(flags.positionals, []);
});

test("parseFlags() takes values after = or as the next argument, even when they start with -", () => {
  const flags = parseFlags(["-data-dir", "/a b", "--http-port", "-1"], specs);
  assert.equal(flags.string("data-dir"), "/a b");
  assert.equal(flags.integer("http-port"), -1);
  assert.equal(parseFlags(["-data-dir=-x=y"], specs).string("data-dir"), "-x=y");
  assert.equal(parseFlags(["-data-dir="], specs).string("data-dir"), "");
});

test("parseFlags() collects repeated flags in order, with aliases under their target", () => {
  const flags = parseFlags(
    ["-retry-join=127.0.0.2", "-join", "127.0.0.3", "--retry-join", "127.0.0.4"],
    specs,
  );
  assert.deepEqual(flags.strings("retry-join"), ["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
  assert.deepEqual(flags.occurrences().map((occurrence) => occurrence.name), [
    "retry-join",
    "retry-join",
    "retry-join",
  ]);
});

test("parseFlags() keeps the last value of a flag given twice, as Go's flag package", () => {
  assert.equal(parseFlags(["-data-dir=/a", "-data-dir=/b"], specs).string("data-dir"), "/b");
});

test("parseFlags() reads booleans as -ui, -ui=true, -ui=false and Go's other spellings", () => {
  assert.equal(parseFlags(["-ui"], specs).boolean("ui"), true);
  assert.equal(parseFlags(["-ui=true"], specs).boolean("ui"), true);
  assert.equal(parseFlags(["--ui=false"], specs).boolean("ui"), false);
  assert.equal(parseFlags(["-ui=0"], specs).boolean("ui"), false);
  assert.equal(parseFlags(["-ui=T"], specs).boolean("ui"), true);
  assert.equal(parseFlags([], specs).has("ui"), false);
  assert.equal(parseFlags([], specs).boolean("ui", true), true);
  assert.match(parseError(["-ui=maybe"]).message, /invalid value "maybe" for -ui/);
});

test("parseFlags() stops at the first positional argument, and after --", () => {
  const flags = parseFlags(["-dev", "key", "-value", "--ui"], specs);
  assert.equal(flags.boolean("dev"), true);
  assert.equal(flags.has("ui"), false);
  assert.deepEqual(flags.positionals, ["key", "-value", "--ui"]);
  assert.deepEqual(parseFlags(["--", "-dev"], specs).positionals, ["-dev"]);
  assert.deepEqual(parseFlags(["-", "x"], specs).positionals, ["-", "x"]);
});

test("parseFlags() refuses unknown flags, missing values, bad integers and bad syntax", () => {
  assert.equal(parseError(["-nope"]).message, 'Cannot parse flags: unknown flag "-nope"');
  assert.equal(
    parseError(["--constructor"]).message,
    'Cannot parse flags: unknown flag "-constructor"',
  );
  assert.equal(parseError(["-data-dir"]).message, "Cannot parse flags: -data-dir needs a value");
  assert.match(parseError(["-bootstrap-expect=three"]).message, /want an integer/);
  assert.match(parseError(["-bootstrap-expect=-1"]).message, /must be at least 0/);
  assert.match(parseError(["-http-port=70000"]).message, /must be at most 65535/);
  assert.match(parseError(["---dev"]).message, /bad flag syntax "---dev"/);
  assert.equal(parseError(["-nope"]).helpRequested, false);
});

test("parseFlags() reports -h, -help and --help as a help request", () => {
  for (const arg of ["-h", "-help", "--help"]) {
    assert.equal(parseError(["-dev", arg]).helpRequested, true);
  }
});

test("runCli() exits 2 with a one-line reason, then the usage, for an unknown flag", async () => {
  const runtime = new FakeRuntime();
  assert.equal(await runCli(runtime, ["kv", "get", "-bogus", "key"]), 2);
  const lines = runtime.stderr.split("\n");
  assert.equal(lines[0], 'Cannot parse flags: unknown flag "-bogus"');
  assert.equal(lines[1], "");
  assert.equal(lines[2], "Usage: cairn kv get [options] [KEY_OR_PREFIX]");
  assert.equal(runtime.stdout, "");
});

test("runCli() exits 2 for a bad value of an agent flag", async () => {
  const runtime = new FakeRuntime();
  assert.equal(await runCli(runtime, ["agent", "-http-port=eighty"]), 2);
  assert.match(
    runtime.stderr,
    /^Cannot parse flags: invalid value "eighty" for -http-port: want an integer\n\nUsage: cairn agent/,
  );
});

test("runCli() prints a command's usage on stdout and exits 0 for -h, -help and --help", async () => {
  for (const arg of ["-h", "-help", "--help"]) {
    const runtime = new FakeRuntime();
    assert.equal(await runCli(runtime, ["agent", arg]), 0);
    assert.match(runtime.stdout, /^Usage: cairn agent \[options\]\n/);
    assert.match(runtime.stdout, /\n {2}-retry-join=<address>\n/);
    assert.match(runtime.stdout, /\n {2}-join=<address>\n {5}An alias of -retry-join\./);
    assert.equal(runtime.stderr, "");
  }
});
