// Goal: build the npm package into npm/package/ from the same sources JSR publishes: ESM
// JavaScript and .d.ts files compiled by tsc (rewriteRelativeImportExtensions turns ./x.ts into
// ./x.js) for library users, a `cairn` bin for Node 20+, Bun and Deno that starts fast, and a
// package.json whose version, exports and dependencies come from deno.json and the root
// package.json, so the two cannot drift.
// Method: tsc -p npm/tsconfig.json (entry points mod.ts and src/cli/main.ts; tsc follows the
// imports) into dist/; the bin is src/cli/main.ts bundled by `bun build --target=node --minify
// --splitting` into bin/ (its dependencies included, tree-shaken; each command and the agent in
// their own chunks, loaded when they run): Node then parses a few files instead of ~180 modules
// and their comments (start-up and idle RSS: docs/benchmarks.md, edge footprint). Then write
// package.json, README.md and LICENSE, check that every export and the bin point at files that
// exist, and run the bin's `version` on the runtime running this script. Runs on Deno, Bun or
// Node (only node: APIs); needs `bun` on PATH, else fetches it with `npx -y bun@1.4.5`.
// Usage: deno task npm   (or bun npm/build.ts)

import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const finalOut = join(root, "npm", "package");
// Built in build/ (git-ignored, excluded from deno's tools) and renamed into place, so tests that
// read npm/package/ while a build runs see the old package or the new one, never half of one.
const out = join(root, "build", `npm-package-${process.pid}`);

/** Reads a JSON file of the repository. */
function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(root, path), "utf8")) as Record<string, unknown>;
}

/** Maps a JSR export target (`./mod.ts`) to the compiled files of the npm package. */
function npmTarget(target: string): { types: string; default: string } {
  const base = target.replace(/^\.\//, "./dist/").replace(/\.ts$/, "");
  return { types: `${base}.d.ts`, default: `${base}.js` };
}

/** The command that runs Bun: this process when it is Bun, `bun` on PATH, else npx's. */
function bunCommand(): string[] {
  if (typeof (globalThis as { Bun?: unknown }).Bun === "object") return [process.execPath];
  try {
    execFileSync("bun", ["--version"], { stdio: "ignore" });
    return ["bun"];
  } catch {
    return ["npx", "-y", "bun@1.4.5"];
  }
}

/** Arguments for this runtime to run `script` (Deno needs `run -A`). */
function runtimeArgs(script: string, ...args: string[]): string[] {
  const isDeno = typeof (globalThis as { Deno?: unknown }).Deno === "object";
  return isDeno ? ["run", "-A", script, ...args] : [script, ...args];
}

/**
 * Bundles src/cli/main.ts into `binDir`: cairn.js (the entry, with a node shebang) and chunks/.
 * Bun's bundler resolves the npm dependencies from the root node_modules and keeps `node:`
 * imports as they are, so the bundle runs on Node, Bun and Deno.
 *
 * @returns the path of bin/cairn.js
 */
function bundleBin(binDir: string): string {
  const [command, ...prefix] = bunCommand();
  execFileSync(command, [
    ...prefix,
    "build",
    "--target=node",
    "--format=esm",
    "--minify",
    "--splitting",
    join(root, "src", "cli", "main.ts"),
    "--outdir",
    binDir,
    "--entry-naming=cairn.[ext]",
    "--chunk-naming=chunks/[name]-[hash].[ext]",
  ], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  const binPath = join(binDir, "cairn.js");
  const code = readFileSync(binPath, "utf8");
  writeFileSync(binPath, `#!/usr/bin/env node\n${code.replace(/^#!.*\n/, "")}`);
  chmodSync(binPath, 0o755);
  return binPath;
}

function main(): void {
  const denoJson = readJson("deno.json");
  const rootPackage = readJson("package.json");
  const template = readJson("npm/package.template.json");
  const tscPath = join(root, "node_modules", "typescript", "bin", "tsc");
  if (!existsSync(tscPath)) {
    throw new Error("Cannot build the npm package: typescript is not installed; run npm ci first");
  }

  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const started = performance.now();
  execFileSync("node", [
    tscPath,
    "-p",
    join(root, "npm", "tsconfig.json"),
    "--outDir",
    join(out, "dist"),
  ], {
    cwd: root,
    stdio: "inherit",
  });
  const tscMs = Math.round(performance.now() - started);

  const bundleStarted = performance.now();
  const binPath = bundleBin(join(out, "bin"));
  const bundleMs = Math.round(performance.now() - bundleStarted);

  const exportsMap: Record<string, { types: string; default: string }> = {};
  const jsrExports = denoJson.exports as Record<string, string> | string;
  const entries = typeof jsrExports === "string" ? { ".": jsrExports } : jsrExports;
  for (const [name, target] of Object.entries(entries)) exportsMap[name] = npmTarget(target);

  const manifest = {
    name: denoJson.name,
    version: denoJson.version,
    ...template,
    exports: { ...exportsMap, "./package.json": "./package.json" },
    main: exportsMap["."].default,
    types: exportsMap["."].types,
    dependencies: rootPackage.dependencies,
  };
  writeFileSync(join(out, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
  copyFileSync(join(root, "npm", "README.md"), join(out, "README.md"));
  copyFileSync(join(root, "LICENSE"), join(out, "LICENSE"));

  // Cross-check: every file package.json names must exist (hono's build/build.ts does the same).
  const named = [
    binPath,
    ...Object.values(exportsMap).flatMap((target) => [target.types, target.default]),
  ]
    .map((path) => path.startsWith("/") ? path : join(out, path));
  const missing = named.filter((path) => !existsSync(path));
  if (missing.length > 0) {
    throw new Error(`Cannot finish the npm package: missing ${missing.join(", ")}`);
  }
  const version = execFileSync(process.execPath, runtimeArgs(binPath, "version"), {
    encoding: "utf8",
  });
  if (!version.startsWith("cairn v")) {
    throw new Error(`Cannot finish the npm package: bin/cairn.js version printed "${version}"`);
  }
  rmSync(finalOut, { recursive: true, force: true });
  renameSync(out, finalOut);
  console.log(
    `npm package ${manifest.name}@${manifest.version} built in npm/package/ ` +
      `(tsc ${tscMs} ms, bin bundled in ${bundleMs} ms)`,
  );
}

try {
  main();
} catch (error) {
  rmSync(out, { recursive: true, force: true });
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
