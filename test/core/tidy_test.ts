// Goal: `src/core` stays pure and deterministic, as STYLE.md's rules say (after TigerBeetle's
// `src/tidy.zig`): no `async`, `Date.now`, `Math.random`, `setTimeout`, `setInterval`, `Deno.`,
// `Bun.` or `process.`; no import from `node:`, from outside `src/core` or from an npm package
// other than the I/O-free ones allowed below; no function longer than 70 lines. Method: every
// `.ts` file under `src/core` is read with `node:fs` and scanned as text. Comments and string
// contents are blanked first (keeping line numbers), so prose and messages may name these
// words; imports are read from the text without comments. Function length is a brace-counting
// heuristic from each line that starts a function, method or block-bodied arrow constant to
// its closing brace. The scanner itself is tested on small sources so the check can fail.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const coreRoot = join(repoRoot, "src", "core");

/** The longest function allowed, in lines, signature to closing brace. */
const functionLinesMax = 70;

/** npm packages `src/core` may import: they do no I/O. */
const packagesAllowed = new Set(["@msgpack/msgpack"]);

/** Words that mean I/O, time or randomness, checked on code without comments and strings. */
const bannedTokens: { rule: string; pattern: RegExp }[] = [
  { rule: "`async` (core modules are synchronous)", pattern: /\basync\s/ },
  { rule: "`Date.now` (time arrives as nowMs)", pattern: /\bDate\.now\b/ },
  { rule: "`Math.random` (use a seeded Random)", pattern: /\bMath\.random\b/ },
  { rule: "`setTimeout` (timers belong to shells)", pattern: /\bsetTimeout\b/ },
  { rule: "`setInterval` (timers belong to shells)", pattern: /\bsetInterval\b/ },
  { rule: "`Deno.` (runtime API)", pattern: /(?<![\w$#])Deno\./ },
  { rule: "`Bun.` (runtime API)", pattern: /(?<![\w$#])Bun\./ },
  { rule: "`process.` (runtime API)", pattern: /(?<![\w$#])process\./ },
  { rule: "`require(` (imports only)", pattern: /\brequire\s*\(/ },
];

/** Words that look like a call at the start of a line but do not start a function. */
const notFunctionNames = new Set([
  "if",
  "for",
  "while",
  "switch",
  "catch",
  "return",
  "function",
  "new",
  "super",
  "await",
  "typeof",
  "void",
  "delete",
  "throw",
  "yield",
  "case",
  "do",
  "else",
  "with",
  "import",
  "export",
]);

interface Violation {
  file: string;
  line: number;
  rule: string;
}

/**
 * Returns `source` with comments blanked and, unless `keepStrings`, string and template contents
 * blanked too (quotes kept). Newlines are kept, so offsets and line numbers do not move. Regular
 * expression literals are not recognised; `src/core` has none with quotes or braces.
 */
function blank(source: string, keepStrings: boolean): string {
  const out = source.split("");
  const templateDepths: number[] = []; // brace depth of each `${` we are inside
  let braceDepth = 0;
  let i = 0;
  const wipe = (from: number, to: number) => {
    for (let j = from; j < to; j += 1) if (out[j] !== "\n") out[j] = " ";
  };
  const scanTemplate = (start: number): number => {
    // From just after a backtick or a `}` closing `${`, to the closing backtick or a `${`.
    let j = start;
    while (j < source.length && source[j] !== "`") {
      if (source[j] === "\\") j += 1;
      else if (source[j] === "$" && source[j + 1] === "{") {
        if (!keepStrings) wipe(start, j + 2); // `${` is not a block: blank it with the text.
        templateDepths.push(braceDepth);
        braceDepth += 1;
        return j + 2;
      }
      j += 1;
    }
    if (!keepStrings) wipe(start, j);
    return j + 1;
  };
  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      const stop = end === -1 ? source.length : end;
      wipe(i, stop);
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? source.length : end + 2;
      wipe(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < source.length && source[j] !== c && source[j] !== "\n") {
        j += source[j] === "\\" ? 2 : 1;
      }
      if (!keepStrings) wipe(i + 1, j);
      i = j + 1;
    } else if (c === "`") {
      i = scanTemplate(i + 1);
    } else if (c === "{") {
      braceDepth += 1;
      i += 1;
    } else if (c === "}") {
      braceDepth -= 1;
      if (templateDepths.length > 0 && templateDepths[templateDepths.length - 1] === braceDepth) {
        templateDepths.pop();
        if (!keepStrings) out[i] = " ";
        i = scanTemplate(i + 1);
      } else {
        i += 1;
      }
    } else {
      i += 1;
    }
  }
  return out.join("");
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i += 1) if (text[i] === "\n") line += 1;
  return line;
}

function checkTokens(file: string, code: string): Violation[] {
  const violations: Violation[] = [];
  for (const [index, line] of code.split("\n").entries()) {
    for (const { rule, pattern } of bannedTokens) {
      if (pattern.test(line)) violations.push({ file, line: index + 1, rule });
    }
  }
  return violations;
}

/** The package name of a bare specifier: `@scope/name` or `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

function checkImports(path: string, file: string, withoutComments: string): Violation[] {
  const patterns = [
    /\b(?:import|export)\b[^;'"`]*?\bfrom\s*(["'])([^"'\n]+)\1/g,
    /\bimport\s*(["'])([^"'\n]+)\1/g,
    /\bimport\s*\(\s*(["'])([^"'\n]+)\1/g,
  ];
  const violations: Violation[] = [];
  for (const pattern of patterns) {
    for (const match of withoutComments.matchAll(pattern)) {
      const specifier = match[2];
      const line = lineOf(withoutComments, match.index ?? 0);
      const rule = importRule(path, specifier);
      if (rule !== undefined) violations.push({ file, line, rule });
    }
  }
  return violations;
}

function importRule(path: string, specifier: string): string | undefined {
  if (specifier.startsWith("node:")) return `import from "${specifier}" (no node: in the core)`;
  if (specifier.startsWith(".")) {
    const target = resolve(dirname(path), specifier);
    if (target === coreRoot || target.startsWith(coreRoot + sep)) return undefined;
    return `import from "${specifier}" leaves src/core`;
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(specifier)) return `import from "${specifier}" (a URL)`;
  if (packagesAllowed.has(packageName(specifier))) return undefined;
  return `import from "${specifier}" (npm package not allowed in the core)`;
}

const functionStart = /^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\b/;
const methodStart =
  /^\s*(?:(?:public|private|protected|static|readonly|override|abstract|async|get|set)\s+)*\*?\s*#?([A-Za-z_$][\w$]*)\s*(?:<[^>(]*>)?\s*\(/;
const arrowStart =
  /^\s*(?:export\s+)?(?:const|let)\s+[\w$]+[^=]*=\s*(?:async\s+)?(?:\([^)]*\)|[\w$]+)\s*(?::[^=]*)?=>\s*\{\s*$/;

/** Line and column of the body's `{` of a function whose signature starts on `start`. */
function bodyStart(lines: string[], start: number): { line: number; column: number } | undefined {
  if (arrowStart.test(lines[start])) {
    return { line: start, column: lines[start].lastIndexOf("{") };
  }
  // Walk the parameter list to its closing parenthesis, then to the first line ending in `{`.
  let depth = 0;
  let opened = false;
  for (let line = start; line < lines.length && line < start + 30; line += 1) {
    const text = lines[line];
    let column = line === start ? text.indexOf("(") : 0;
    if (!opened && column === -1) continue;
    for (; column < text.length && !(opened && depth === 0); column += 1) {
      if (text[column] === "(") {
        depth += 1;
        opened = true;
      } else if (text[column] === ")") depth -= 1;
    }
    if (!(opened && depth === 0)) continue;
    const rest = text.slice(column).trim();
    if (rest.endsWith("{") && (rest.startsWith(":") || rest === "{")) {
      return { line, column: text.lastIndexOf("{") };
    }
    if (rest.startsWith(":") && !rest.includes(";")) return returnTypeBody(lines, line + 1);
    return undefined;
  }
  return undefined;
}

/** For a return type spanning lines: the first later line ending in `{` (before any `;`). */
function returnTypeBody(
  lines: string[],
  from: number,
): { line: number; column: number } | undefined {
  for (let line = from; line < lines.length && line < from + 10; line += 1) {
    const text = lines[line].trimEnd();
    if (text.endsWith(";")) return undefined;
    if (text.endsWith("{")) return { line, column: text.lastIndexOf("{") };
  }
  return undefined;
}

/** Index of the line holding the `}` that closes the `{` at `body`. */
function bodyEnd(lines: string[], body: { line: number; column: number }): number {
  let depth = 0;
  for (let line = body.line; line < lines.length; line += 1) {
    const text = lines[line];
    for (let column = line === body.line ? body.column : 0; column < text.length; column += 1) {
      if (text[column] === "{") depth += 1;
      else if (text[column] === "}") {
        depth -= 1;
        if (depth === 0) return line;
      }
    }
  }
  return lines.length - 1;
}

function checkFunctionLengths(file: string, code: string): Violation[] {
  const lines = code.split("\n");
  const violations: Violation[] = [];
  for (let start = 0; start < lines.length; start += 1) {
    const text = lines[start];
    const method = methodStart.exec(text);
    const starts = functionStart.test(text) || arrowStart.test(text) ||
      (method !== null && !notFunctionNames.has(method[1]));
    if (!starts) continue;
    const body = bodyStart(lines, start);
    if (body === undefined) continue;
    const length = bodyEnd(lines, body) - start + 1;
    if (length > functionLinesMax) {
      const rule = `function of ${length} lines (max ${functionLinesMax}): ${text.trim()}`;
      violations.push({ file, line: start + 1, rule });
    }
  }
  return violations;
}

/** Every tidy violation of one file; `path` is absolute, for resolving relative imports. */
function scanSource(path: string, source: string): Violation[] {
  const file = relative(repoRoot, path).split(sep).join("/");
  const code = blank(source, false);
  return [
    ...checkTokens(file, code),
    ...checkImports(path, file, blank(source, true)),
    ...checkFunctionLengths(file, code),
  ];
}

function coreFiles(dir: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...coreFiles(path));
    else if (name.endsWith(".ts")) files.push(path);
  }
  return files;
}

function render(violations: Violation[]): string {
  return violations.map((v) => `${v.file}:${v.line}: ${v.rule}`).join("\n");
}

describe("tidy", () => {
  test("`src/core` has no I/O, clock, randomness, foreign import or long function", () => {
    const files = coreFiles(coreRoot);
    assert.ok(
      files.some((path) => path.endsWith(join("state", "state_store.ts"))),
      `the scan must reach src/core/state, found: ${files.join(", ")}`,
    );
    const violations = files.flatMap((path) => scanSource(path, readFileSync(path, "utf8")));
    assert.equal(violations.length, 0, `tidy violations:\n${render(violations)}`);
  });
});

describe("tidy scanner", () => {
  const at = join(coreRoot, "state", "example.ts");
  const rules = (source: string) => scanSource(at, source).map((v) => `${v.line}: ${v.rule}`);

  test("`scanSource()` flags each banned token on its line", () => {
    const source = [
      "export async function load() {}",
      "const now = Date.now();",
      "const dice = Math.random();",
      "setTimeout(() => {}, 1);",
      "setInterval(() => {}, 1);",
      "Deno.exit(1);",
      "Bun.serve({});",
      "process.exit(1);",
      "const sneaky = globalThis.Deno.env;",
      "const fs = require('fs');",
    ].join("\n");
    const found = rules(source);
    assert.equal(found.length, 10, found.join("\n"));
    for (let line = 1; line <= 10; line += 1) {
      assert.ok(found.some((rule) => rule.startsWith(`${line}: `)), `line ${line}: ${found}`);
    }
  });

  test("`scanSource()` ignores banned words in comments, strings and names", () => {
    const source = [
      "// No setTimeout here: time arrives as nowMs (not Date.now).",
      "/* Math.random is banned; Deno.exit too. */",
      'const message = "Cannot call process.exit in the core";',
      "const template = `async ${1 + 1} Bun.serve`;",
      "const asyncCount = 1;",
      "this.#process.run();",
      "const reprocess = { x: 1 };",
    ].join("\n");
    assert.deepEqual(rules(source), []);
  });

  test("`scanSource()` flags node:, escaping and unknown package imports", () => {
    const source = [
      'import { readFileSync } from "node:fs";',
      'import type { Runtime } from "../../runtime.ts";',
      'import { Hono } from "hono";',
      "import {",
      "  a,",
      '} from "node:path";',
      'export { b } from "../../http/kv.ts";',
      'const lazy = await import("node:os");',
      'import "https://example.com/x.ts";',
    ].join("\n");
    const lines = scanSource(at, source)
      .filter((v) => v.rule.startsWith("import"))
      .map((v) => v.line)
      .sort((a, b) => a - b);
    assert.deepEqual(lines, [1, 2, 3, 4, 7, 8, 9]);
  });

  test("`scanSource()` accepts imports inside src/core and allowed packages", () => {
    const source = [
      'import { assert } from "../assert.ts";',
      'import type { KvOp } from "./commands.ts";',
      'export * from "./types.ts";',
      'import { decode, encode } from "@msgpack/msgpack";',
    ].join("\n");
    assert.deepEqual(rules(source), []);
  });

  test("`scanSource()` flags a function of 71 lines and accepts one of 70", () => {
    const body = (count: number) => Array.from({ length: count - 2 }, () => "  work();");
    const fits = ["function fits(): void {", ...body(70), "}"].join("\n");
    const long = ["export function long(", "  a: number,", "): { a: number } {", ...body(69), "}"]
      .join("\n");
    assert.deepEqual(rules(fits), []);
    const found = rules(long);
    assert.equal(found.length, 1, found.join("\n"));
    assert.match(found[0], /^1: function of 71 lines/);
  });

  test("`scanSource()` measures methods, getters and arrow constants, not calls or overloads", () => {
    const lines = (count: number) => Array.from({ length: count }, () => "    work({ a: 1 });");
    const source = [
      "class Example {",
      "  overload(a: string): void;",
      "  #method(a: number): { ok: boolean } {",
      ...lines(70),
      "  }",
      "  get size(): number {",
      ...lines(80),
      "  }",
      "}",
      "export const arrow = (a: number): number => {",
      ...lines(75),
      "};",
      "register(tables, {",
      ...lines(90),
      "});",
      "if (condition) {",
      ...lines(90),
      "}",
    ].join("\n");
    assert.deepEqual(
      scanSource(at, source).map((v) => v.line),
      [3, 75, 158],
    );
  });

  test("`scanSource()` is not fooled by braces in strings, templates and comments", () => {
    const source = [
      "function short(): string {",
      '  const a = "}}}";',
      "  const b = `${'{'} }} ${a}`; // }",
      "  /* } */",
      "  return a + b;",
      "}",
      ...Array.from({ length: 80 }, () => "const filler = 1;"),
    ].join("\n");
    assert.deepEqual(rules(source), []);
  });
});
