#!/usr/bin/env bash
# Goal: run every test suite on Deno and on Bun, print one "<runtime>: N passed, N failed" line
# each, and fail when any test fails. Method: deno test and bun test over test/, logs parsed with
# awk (their own summaries differ and CI reads the plain line).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tmp
if [ ! -d node_modules ]; then npm ci --no-audit --no-fund; fi
if command -v deno >/dev/null 2>&1; then deno_cmd=(deno); else deno_cmd=(npx -y deno@2.9.6); fi
if command -v bun >/dev/null 2>&1; then bun_cmd=(bun); else bun_cmd=(npx -y bun@1.4.5); fi

"${deno_cmd[@]}" test -A test/ 2>&1 | tee .tmp/deno.log
deno_rc=${PIPESTATUS[0]}
"${bun_cmd[@]}" test ./test --timeout 60000 2>&1 | tee .tmp/bun.log
bun_rc=${PIPESTATUS[0]}

sed 's/\x1b\[[0-9;]*m//g' .tmp/deno.log | awk '/^(ok|FAILED) \|/{for(i=1;i<=NF;i++){if($(i+1)~/^passed/)p=$i;if($(i+1)~/^failed/)f=$i}}END{printf "deno: %d passed, %d failed\n",p,f}'
sed 's/\x1b\[[0-9;]*m//g' .tmp/bun.log | awk '/^ *[0-9]+ pass$/{p=$1}/^ *[0-9]+ fail$/{f=$1}END{printf "bun: %d passed, %d failed\n",p,f}'
if [ "$deno_rc" -ne 0 ] || [ "$bun_rc" -ne 0 ]; then
  # CI keeps only the end of the log: repeat what failed, with the first lines of each reason.
  if [ "$deno_rc" -ne 0 ]; then
    echo "deno failures (reasons first, from .tmp/deno.log):"
    sed 's/\x1b\[[0-9;]*m//g' .tmp/deno.log | awk '/^ ERRORS $/{on=1;next}/^ FAILURES $/{on=0}on' | head -n 60
    sed 's/\x1b\[[0-9;]*m//g' .tmp/deno.log | awk '/^ FAILURES $/{on=1;next}/^(ok|FAILED) \|/{on=0}on' | head -n 20
  fi
  if [ "$bun_rc" -ne 0 ]; then
    echo "bun failures (from .tmp/bun.log):"
    sed 's/\x1b\[[0-9;]*m//g' .tmp/bun.log | grep -E '^\(fail\)|error:' | head -n 30
  fi
  echo "tests failed: deno exit $deno_rc, bun exit $bun_rc"
  exit 1
fi
