// Goal: `deno task compile` builds single executables of the cairn CLI with `deno compile` for
// linux x64/arm64, macOS x64/arm64 and Windows x64 into dist/. `deno compile` downloads a
// `denort` base binary per target from dl.deno.land; where that host cannot be reached it must
// stop with one line that says so (exit 2), not a stack trace. Method: run `deno compile` per
// target with its output captured; on failure, recognise the download error and print one line.
// Usage: deno task compile [target ...]   (default: all five targets)
// Where the host is unreachable, `deno task compile:bun` builds an executable instead.

import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import process from "node:process";

/** The targets of `deno compile --target`, with the file names they get in dist/. */
const targets: Record<string, string> = {
  "x86_64-unknown-linux-gnu": "cairn-linux-x64",
  "aarch64-unknown-linux-gnu": "cairn-linux-arm64",
  "x86_64-apple-darwin": "cairn-darwin-x64",
  "aarch64-apple-darwin": "cairn-darwin-arm64",
  "x86_64-pc-windows-msvc": "cairn-windows-x64.exe",
};

const downloadFailure =
  /dl\.deno\.land|denort|error sending request|dns error|Setting up base binary/i;

function main(): number {
  const wanted = process.argv.slice(2);
  const chosen = wanted.length === 0 ? Object.keys(targets) : wanted;
  const unknown = chosen.filter((target) => !(target in targets));
  if (unknown.length > 0) {
    console.error(
      `Cannot compile for "${unknown.join(", ")}": targets are ${Object.keys(targets).join(", ")}`,
    );
    return 2;
  }
  mkdirSync("dist", { recursive: true });
  for (const target of chosen) {
    const output = `dist/${targets[target]}`;
    const result = spawnSync(
      "deno",
      ["compile", "-A", "--quiet", "--target", target, "--output", output, "src/cli/main.ts"],
      // RUST_BACKTRACE would add a backtrace to deno's own error text (runtimes.md P20).
      { encoding: "utf8", env: { ...process.env, RUST_BACKTRACE: "0", NO_COLOR: "1" } },
    );
    const text = `${result.stdout ?? ""}${result.stderr ?? ""}`;
    if (result.error !== undefined) {
      console.error(`Cannot run deno compile: ${result.error.message}`);
      return 1;
    }
    if (result.status !== 0) {
      if (downloadFailure.test(text)) {
        console.error(
          "Cannot compile with deno: its base binary (denort) comes from dl.deno.land, which " +
            "this machine cannot reach; use `deno task compile:bun` for a single executable",
        );
        return 2;
      }
      const reason = text.split("\n").find((line) => /error/i.test(line))?.trim() ??
        `exit code ${result.status}`;
      console.error(`Cannot compile for ${target}: ${reason}`);
      return 1;
    }
    console.log(`built ${output}`);
  }
  return 0;
}

process.exit(main());
