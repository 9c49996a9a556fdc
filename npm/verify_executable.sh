#!/usr/bin/env bash
# Goal: prove the single executable works with no runtime on PATH: build dist/cairn with
# `bun build --compile` (the compile:bun task), run `dist/cairn version`, start
# `dist/cairn agent -dev` on 127.0.0.48 and do a KV round trip through its own CLI; and check that
# `deno task compile` either builds or, where dl.deno.land is unreachable, stops with one line
# and a non-zero exit (no stack trace). Prints `executable: N passed, N failed`; exits 1 on failure.
# Method: the agent and CLI run with an empty directory as PATH, so nothing but the executable
# can serve them; waits are bounded; the agent is stopped by pid.
# Usage: bash npm/verify_executable.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=npm/_verify_lib.sh
source npm/_verify_lib.sh
if command -v deno >/dev/null 2>&1; then deno_cmd=(deno); else deno_cmd=(npx -y deno@2.9.6); fi
if command -v bun >/dev/null 2>&1; then bun_cmd=(bun); else bun_cmd=(npx -y bun@1.4.5); fi
work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-exe-verify.XXXXXX")
trap 'stop_agent; rm -rf "$work"' EXIT

echo "== build dist/cairn (compile:bun)"
"${bun_cmd[@]}" build --compile --minify --bytecode --format=esm src/cli/main.ts --outfile dist/cairn
exe="$(pwd)/dist/cairn"
echo "dist/cairn: $(du -m "$exe" | cut -f1) MiB"
# No deno, bun or node on PATH (an empty directory is the whole PATH) for the executable and CLI.
mkdir -p "$work/empty-path"
bare=(env "PATH=$work/empty-path")

echo "== checks"
expect_output "executable: cairn version" '^cairn v[0-9]' "${bare[@]}" "$exe" version
start_agent "$work/agent.log" "${bare[@]}" "$exe" agent -dev -bind=127.0.0.48 -client=127.0.0.48 \
  -http-port=18558 -dns-port=18658 -log-level=warn
if wait_http "http://127.0.0.48:18558/v1/status/leader"; then
  agent_round_trip "executable agent" 127.0.0.48:18558 "${bare[@]}" "$exe"
else
  failed=$((failed + 1)); echo "FAIL executable agent: HTTP API did not answer within 20 s"
  tail -n 20 "$work/agent.log" | sed 's/^/     /'
fi
stop_agent

# deno compile: builds where dl.deno.land is reachable; elsewhere one line and a non-zero exit.
compile_rc=0
compile_out=$("${deno_cmd[@]}" run -A npm/compile.ts x86_64-unknown-linux-gnu 2>&1) || compile_rc=$?
if [ "$compile_rc" -eq 0 ]; then
  passed=$((passed + 1)); echo "ok   deno task compile: built"
elif [ "$(wc -l <<<"$compile_out")" -eq 1 ] && grep -q '^Cannot compile' <<<"$compile_out"; then
  passed=$((passed + 1)); echo "ok   deno task compile: one line, exit $compile_rc: $compile_out"
else
  failed=$((failed + 1)); echo "FAIL deno task compile: exit $compile_rc"
  echo "$compile_out" | tail -n 10 | sed 's/^/     /'
fi

echo "executable: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
