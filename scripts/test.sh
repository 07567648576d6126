#!/usr/bin/env bash
# `make test`'s runs: the suite on the continuation strand, the same suite on
# the virtual-thread strand, then the consumer project (test/tasklet/
# consumer_test.clj), each printing what ran and `<run>: N passed, N failed`
# (deftests, a test failing when any of its assertions fails or errors), and
# last the total. Each run's whole output is kept in target/test-logs/<run>.out;
# the library's own log (crash reports provoked on purpose, refused peers) is
# in target/test-logs/tasklet-*.log (test/logging.properties). Exits non-zero
# when any run failed, after running them all.
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh || exit 1
mkdir -p target/test-logs
rm -f target/test-logs/*

total_pass=0 total_fail=0 status=0

# $1 = run name, rest = lein arguments
run() {
  local name=$1 out="target/test-logs/$1.out" rc counts
  shift
  echo "== $name: lein $*"
  # what runs, as it goes: one line per namespace, and each failure
  lein "$@" 2>&1 | tee "$out" | grep --line-buffered -E '^lein test |^(FAIL|ERROR) in ' \
    | sed -u -e 's/^lein test :only /  to rerun it: lein test :only /' -e 's/^lein test /  ran /'
  rc=${PIPESTATUS[0]}
  counts=$(awk '
    /^lein test /           { ns = $3 }
    /^Ran [0-9]+ tests/     { tests += $2 }
    /^(FAIL|ERROR) in \(/   { name = $3; gsub(/[()]/, "", name); failed[ns "/" name] = 1 }
    END { n = 0; for (k in failed) n++; print tests + 0, n }' "$out")
  set -- $counts
  local tests=$1 failed=$2
  if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
    # lein itself failed (a namespace that does not load, a JVM that died)
    failed=1
    tail -40 "$out"
  fi
  [ "$failed" = 0 ] || { status=1; echo "  whole output: $out; library log: target/test-logs/tasklet-*.log"; }
  echo "$name: $((tests - failed < 0 ? 0 : tests - failed)) passed, $failed failed"
  total_pass=$((total_pass + (tests - failed < 0 ? 0 : tests - failed)))
  total_fail=$((total_fail + failed))
}

run continuation test
run virtual with-profile +vthread test
run consumer test :consumer

echo "total: $total_pass passed, $total_fail failed"
exit $status
