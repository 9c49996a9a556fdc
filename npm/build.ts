// Goal: build the npm package into npm/package/ from the same sources JSR publishes: ESM
// JavaScript and .d.ts files compiled by tsc (rewriteRelativeImportExtensions turns ./x.ts into
// ./x.js), a `cairn` bin for Node 20+ and Bun, and a package.json whose version, exports and
// dependencies come from deno.json and the root package.json, so the two cannot drift.
// Method: tsc -p npm/tsconfig.json (entry points mod.ts and src/cli/main.ts; tsc follows the
// imports), then write bin/cairn.js, package.json, README.md and LICENSE, then check that every
// export and the bin point at files that exist. Runs on Deno, Bun or Node (only node: APIs).
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

  // The bin is a tiny ESM file that imports the CLI's main: main.ts has no shebang and uses
  // top-level await, which Node 20 and Bun both run in an ES module.
  mkdirSync(join(out, "bin"), { recursive: true });
  const binPath = join(out, "bin", "cairn.js");
  writeFileSync(binPath, '#!/usr/bin/env node\nimport "../dist/src/cli/main.js";\n');
  chmodSync(binPath, 0o755);

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
  rmSync(finalOut, { recursive: true, force: true });
  renameSync(out, finalOut);
  console.log(
    `npm package ${manifest.name}@${manifest.version} built in npm/package/ (tsc ${tscMs} ms)`,
  );
}

try {
  main();
} catch (error) {
  rmSync(out, { recursive: true, force: true });
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
