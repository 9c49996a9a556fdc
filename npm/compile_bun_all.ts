// Goal: `deno task compile:bun:all` builds the cairn executable with `bun build --compile` for
// linux x64/arm64, macOS x64/arm64 and Windows x64 into dist/cairn-<os>-<arch>[.exe]. Bun
// fetches each target's runtime (~100 MB) from the npm registry on first use and caches it
// (runtimes.md §10, P17), so this is not run in CI. Method: one `bun build` per target with the
// flags of `compile:bun` (ESM, because main.ts uses top-level await: runtimes.md P16; the Node
// adapter's @hono/node-server left out), then
// print each file's size.
// Usage: deno task compile:bun:all [bun-target ...]

import { spawnSync } from "node:child_process";
import { mkdirSync, statSync } from "node:fs";
import process from "node:process";

/** Bun's `--target` names, with the file names they get in dist/. */
const targets: Record<string, string> = {
  "bun-linux-x64": "cairn-linux-x64",
  "bun-linux-arm64": "cairn-linux-arm64",
  "bun-darwin-x64": "cairn-darwin-x64",
  "bun-darwin-arm64": "cairn-darwin-arm64",
  "bun-windows-x64": "cairn-windows-x64.exe",
};

function main(): number {
  const wanted = process.argv.slice(2);
  const chosen = wanted.length === 0 ? Object.keys(targets) : wanted;
  mkdirSync("dist", { recursive: true });
  let failed = 0;
  for (const target of chosen) {
    const name = targets[target];
    if (name === undefined) {
      console.error(
        `Cannot compile for "${target}": targets are ${Object.keys(targets).join(", ")}`,
      );
      return 2;
    }
    const output = `dist/${name}`;
    const started = performance.now();
    const result = spawnSync("bun", [
      "build",
      "--compile",
      "--minify",
      "--bytecode",
      "--format=esm",
      // Only the Node adapter imports it; bundled, its static node:http import would be hoisted
      // to the top of the executable and load node:http, node:net and node:stream on Bun
      // (~3 MiB idle, docs/benchmarks.md).
      "--external",
      "@hono/node-server",
      `--target=${target}`,
      "src/cli/main.ts",
      "--outfile",
      output,
    ], { encoding: "utf8" });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (result.status !== 0) {
      failed += 1;
      const text = `${result.stderr ?? ""}${result.stdout ?? ""}`;
      const reason = text.split("\n").find((line) => /error/i.test(line))?.trim() ??
        result.error?.message ?? `exit code ${result.status}`;
      console.error(`Cannot compile for ${target}: ${reason}`);
      continue;
    }
    const mib = (statSync(output).size / 1024 / 1024).toFixed(1);
    console.log(`${output}  ${mib} MiB  (${seconds} s)`);
  }
  return failed === 0 ? 0 : 1;
}

process.exit(main());
