# Helpers shared by npm/verify.sh and npm/verify_executable.sh (sourced, not run): named checks
# that count passes and failures, a bounded wait for an agent's HTTP API, and agent start/stop.
# Every wait is bounded; every agent started here is stopped by its own pid.

passed=0
failed=0
agent_pid=""

# check NAME COMMAND...: runs COMMAND with a 60 s limit, records and prints the outcome.
check() {
  local name=$1
  shift
  local out
  if out=$(timeout 60 "$@" 2>&1); then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    echo "$out" | tail -n 15 | sed 's/^/     /'
  fi
}

# expect_output NAME PATTERN COMMAND...: like check, and the output must match the grep PATTERN.
expect_output() {
  local name=$1 pattern=$2
  shift 2
  local out
  if out=$(timeout 60 "$@" 2>&1) && grep -qE -- "$pattern" <<<"$out"; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name (wanted /$pattern/)"
    echo "$out" | tail -n 15 | sed 's/^/     /'
  fi
}

# wait_http URL: succeeds once GET URL answers 2xx, within 20 s.
wait_http() {
  node -e '
    const url = process.argv[1], deadline = Date.now() + 20000;
    (async () => {
      while (Date.now() < deadline) {
        try { if ((await fetch(url)).ok) process.exit(0); } catch {}
        await new Promise((r) => setTimeout(r, 50));
      }
      process.exit(1);
    })();' "$1"
}

# start_agent LOG COMMAND...: starts an agent in the background and remembers its pid.
start_agent() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  agent_pid=$!
}

# stop_agent: SIGTERM the remembered agent, then SIGKILL after 5 s if it is still there.
stop_agent() {
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$agent_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$agent_pid" 2>/dev/null || true
    wait "$agent_pid" 2>/dev/null || true
  fi
  agent_pid=""
}

# agent_round_trip NAME HTTP_ADDR CLI...: KV put and get through the agent with the cairn CLI.
agent_round_trip() {
  local name=$1 address=$2
  shift 2
  local value="v-$RANDOM-$$"
  expect_output "$name: HTTP API answers" '^"' node -e '
    fetch(process.argv[1]).then(async (r) => { console.log(await r.text()); process.exit(r.ok ? 0 : 1); },
      (e) => { console.error(String(e)); process.exit(1); });' "http://$address/v1/status/leader"
  check "$name: cairn kv put" "$@" kv put -http-addr="$address" verify/key "$value"
  expect_output "$name: cairn kv get returns the value" "^$value\$" \
    "$@" kv get -http-addr="$address" verify/key
}
