#!/usr/bin/env bash
# Goal: prove the npm package works where users install it: build it (deno task npm), pack it,
# install the tarball into an empty project, then with Node and with Bun run `cairn version`, a
# dev agent with a KV round trip through the CLI, and the README's embedding examples; compile
# the portable embedding tests (test/embed files that import only ./_cairn.ts and ./_wait.ts)
# against the installed package's types and run them with `node --test`. Prints one line
# `npm-package: N passed, N failed` and exits 1 on any failure.
# Method: a temp project per run, `npm install --offline` from the npm cache (falling back to
# --prefer-offline), agents on 127.0.0.48 (Node) and 127.0.0.49 (Bun) with their own ports,
# every wait bounded, every agent stopped by pid.
# Usage: bash npm/verify.sh   (slow: ~1 min; CI runs it after the test suites)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=npm/_verify_lib.sh
source npm/_verify_lib.sh
if command -v deno >/dev/null 2>&1; then deno_cmd=(deno); else deno_cmd=(npx -y deno@2.9.6); fi
if command -v bun >/dev/null 2>&1; then bun_cmd=(bun); else bun_cmd=(npx -y bun@1.4.5); fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-npm-verify.XXXXXX")
trap 'stop_agent; rm -rf "$work"' EXIT

echo "== build and pack"
"${deno_cmd[@]}" run -A npm/build.ts
tarball=$(cd "$work" && npm pack "$root/npm/package" --silent | tail -n 1)
tarball="$work/$tarball"
echo "packed $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB)"

echo "== install into an empty project"
project="$work/project"
mkdir -p "$project"
printf '{ "name": "cairn-verify", "private": true, "type": "module" }\n' >"$project/package.json"
if (cd "$project" && npm install --offline --no-audit --no-fund --silent "$tarball" 2>/dev/null); then
  echo "installed with npm install --offline (dependencies from the npm cache)"
else
  (cd "$project" && npm install --prefer-offline --no-audit --no-fund --silent "$tarball")
  echo "installed with npm install --prefer-offline (the cache lacked a dependency)"
fi
bin="$project/node_modules/.bin/cairn"

echo "== checks"
expect_output "node: cairn version" '^cairn v[0-9]' node "$bin" version
expect_output "node: npx cairn version" '^cairn v[0-9]' bash -c "cd '$project' && npx --no-install cairn version"
expect_output "bun: bunx --bun cairn version" '^cairn v[0-9]' \
  bash -c "cd '$project' && ${bun_cmd[*]} x --bun cairn version"
expect_output "bun: bunx --bun -p <tarball> cairn version" '^cairn v[0-9]' \
  bash -c "cd '$work' && ${bun_cmd[*]} x --bun -p '$tarball' cairn version"
expect_output "deno: deno run the installed bin" '^cairn v[0-9]' \
  "${deno_cmd[@]}" run -A "$project/node_modules/@cairn/cairn/bin/cairn.js" version

# A dev agent on Node: served by @hono/node-server.
start_agent "$work/node-agent.log" node "$bin" agent -dev -bind=127.0.0.48 -client=127.0.0.48 \
  -http-port=18548 -dns-port=18648 -log-level=warn
if wait_http "http://127.0.0.48:18548/v1/status/leader"; then
  agent_round_trip "node agent" 127.0.0.48:18548 node "$bin"
  expect_output "node agent: runs on node" '"name":"node"' node -e '
    fetch(process.argv[1]).then(async (r) => console.log(JSON.stringify((await r.json()).Stats.runtime)))' \
    "http://127.0.0.48:18548/v1/agent/self"
else
  failed=$((failed + 1)); echo "FAIL node agent: HTTP API did not answer within 20 s"
  tail -n 20 "$work/node-agent.log" | sed 's/^/     /'
fi
stop_agent

# The same on Bun (`bun --bun` runs the node-shebang bin on Bun: runtimes.md P15).
start_agent "$work/bun-agent.log" "${bun_cmd[@]}" --bun "$bin" agent -dev -bind=127.0.0.49 \
  -client=127.0.0.49 -http-port=18549 -dns-port=18649 -log-level=warn
if wait_http "http://127.0.0.49:18549/v1/status/leader"; then
  agent_round_trip "bun agent" 127.0.0.49:18549 "${bun_cmd[@]}" --bun "$bin"
  expect_output "bun agent: runs on bun" '"name":"bun"' node -e '
    fetch(process.argv[1]).then(async (r) => console.log(JSON.stringify((await r.json()).Stats.runtime)))' \
    "http://127.0.0.49:18549/v1/agent/self"
else
  failed=$((failed + 1)); echo "FAIL bun agent: HTTP API did not answer within 20 s"
  tail -n 20 "$work/bun-agent.log" | sed 's/^/     /'
fi
stop_agent

# The README's embedding examples, against the installed package.
cp examples/node_embed.mjs examples/bun_embed.ts "$project/"
expect_output "node: examples/node_embed.mjs" 'config/mode is now blue' \
  bash -c "cd '$project' && node node_embed.mjs"
expect_output "bun: examples/bun_embed.ts" 'config/mode is now blue' \
  bash -c "cd '$project' && ${bun_cmd[*]} bun_embed.ts"

# The portable embedding tests on Node 20, type-checked against the package's .d.ts files.
tests="$project/test"
mkdir -p "$tests"
portable=()
for file in test/embed/*_test.ts; do
  if ! grep -qE "from \"\.\./|from \"\.\./\.\./" "$file" && grep -q '"./_cairn.ts"' "$file"; then
    portable+=("$file")
  fi
done
cp "${portable[@]}" test/embed/_wait.ts "$tests/"
printf 'export * from "@cairn/cairn";\n' >"$tests/_cairn.ts"
cat >"$project/tsconfig.json" <<JSON
{
  "compilerOptions": {
    "target": "es2022", "module": "nodenext", "moduleResolution": "nodenext",
    "rewriteRelativeImportExtensions": true, "outDir": "build", "rootDir": "test",
    "strict": true, "skipLibCheck": false, "lib": ["es2023"], "types": ["node"],
    "typeRoots": ["$root/node_modules/@types"]
  },
  "include": ["test"]
}
JSON
check "tsc: portable tests type-check against the package's types" \
  node "$root/node_modules/typescript/bin/tsc" -p "$project/tsconfig.json"
node_log="$work/node-test.log"
if (cd "$project" && timeout 120 node --test --test-force-exit --test-reporter=spec build/ \
  >"$node_log" 2>&1); then
  node_rc=0
else
  node_rc=$?
fi
node_pass=$(sed 's/\x1b\[[0-9;]*m//g' "$node_log" | awk '/^(# |ℹ )pass /{p=$3}END{print p+0}')
node_fail=$(sed 's/\x1b\[[0-9;]*m//g' "$node_log" | awk '/^(# |ℹ )fail /{f=$3}END{print f+0}')
echo "node --test on the package (${#portable[@]} files): $node_pass passed, $node_fail failed"
if [ "$node_rc" -eq 0 ] && [ "$node_pass" -gt 0 ]; then
  passed=$((passed + 1)); echo "ok   node: portable embedding tests"
else
  failed=$((failed + 1)); echo "FAIL node: portable embedding tests (exit $node_rc)"
  grep -E "✖|not ok|Error" "$node_log" | head -n 20 | sed 's/^/     /'
fi

echo "npm-package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
