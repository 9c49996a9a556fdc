// Goal: the embedding examples in examples/ (shown in README.md) run and print what they promise
// on Deno, Bun and Node and README.md shows them as they are, so they cannot rot; and a program that embeds an agent and never stops
// it still exits by itself (everything the agent holds is unref'd).
// Method: each example or fixture runs as its own process with a deadline. The Deno example
// imports the source tree and runs on deno and on bun. The Bun and Node examples import
// "@cairn/cairn", so they run against npm/package/ (built by `deno task npm`) linked into a temp
// project; without that build they are skipped here, and npm/verify.sh runs them against the
// packed tarball instead. A runtime missing from PATH is skipped.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const packageDir = join(root, "npm", "package");
const exampleLines = ["web is passing at 127.0.0.1:8080", "config/mode is now blue"];
const deadlineMs = 20_000;

function onPath(command: string): boolean {
  try {
    execFileSync(command, ["--version"], { stdio: "ignore", timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

const runtimes = { deno: onPath("deno"), bun: onPath("bun"), node: onPath("node") };

/** Runs a program to its end; rejects when it fails or outlives the deadline. */
function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    execFile(command, args, { cwd, timeout: deadlineMs, env: { ...process.env, NO_COLOR: "1" } }, (
      error,
      stdout,
      stderr,
    ) => {
      if (error !== null) {
        const ms = Math.round(performance.now() - started);
        reject(new Error(`Cannot run ${command} ${args.join(" ")} (${ms} ms): ${stderr}${error}`));
        return;
      }
      resolve(stdout);
    });
  });
}

function lines(stdout: string): string[] {
  return stdout.split("\n").map((line) => line.trim()).filter((line) => line !== "");
}

/** A temp project where "@cairn/cairn" resolves to npm/package/ (its dependencies to the repo's). */
function linkedProject(): string {
  const dir = mkdtempSync(join(tmpdir(), "cairn-examples-"));
  mkdirSync(join(dir, "node_modules", "@cairn"), { recursive: true });
  symlinkSync(packageDir, join(dir, "node_modules", "@cairn", "cairn"), "dir");
  return dir;
}

const packageBuilt = existsSync(join(packageDir, "dist", "mod.js"));
const notBuilt = "npm/package/ is not built (deno task npm); npm/verify.sh runs this example";

describe("examples", () => {
  it("README.md shows each example file exactly", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    for (const file of ["deno_embed.ts", "bun_embed.ts", "node_embed.mjs"]) {
      const text = readFileSync(join(root, "examples", file), "utf8");
      assert.ok(readme.includes(text), `README.md does not show examples/${file} as it is`);
    }
  });

  it("examples/deno_embed.ts prints its lines on Deno", { skip: !runtimes.deno }, async () => {
    const stdout = await run("deno", ["run", "-A", "examples/deno_embed.ts"], root);
    assert.deepEqual(lines(stdout), exampleLines);
  });

  it("examples/deno_embed.ts prints its lines on Bun", { skip: !runtimes.bun }, async () => {
    const stdout = await run("bun", ["examples/deno_embed.ts"], root);
    assert.deepEqual(lines(stdout), exampleLines);
  });

  it("examples/bun_embed.ts prints its lines on Bun from the npm build", {
    skip: !runtimes.bun ? "bun is not on PATH" : !packageBuilt ? notBuilt : false,
  }, async () => {
    const dir = linkedProject();
    try {
      copyFileSync(join(root, "examples", "bun_embed.ts"), join(dir, "bun_embed.ts"));
      assert.deepEqual(lines(await run("bun", ["bun_embed.ts"], dir)), exampleLines);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("examples/node_embed.mjs prints its lines on Node from the npm build", {
    skip: !runtimes.node ? "node is not on PATH" : !packageBuilt ? notBuilt : false,
  }, async () => {
    const dir = linkedProject();
    try {
      copyFileSync(join(root, "examples", "node_embed.mjs"), join(dir, "node_embed.mjs"));
      assert.deepEqual(lines(await run("node", ["node_embed.mjs"], dir)), exampleLines);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("an embedded agent never keeps a finished program alive", () => {
  const fixture = "test/embed/fixtures/exits_without_stop.ts";

  it("a program that never calls stop() exits on Deno", { skip: !runtimes.deno }, async () => {
    const stdout = await run("deno", ["run", "-A", fixture, "127.0.0.46"], root);
    assert.deepEqual(lines(stdout), ["main done"]);
  });

  it("a program that never calls stop() exits on Bun", { skip: !runtimes.bun }, async () => {
    const stdout = await run("bun", [fixture, "127.0.0.47"], root);
    assert.deepEqual(lines(stdout), ["main done"]);
  });
});
