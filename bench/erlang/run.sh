#!/usr/bin/env bash
# Erlang/OTP's figures for W1-W6 (bench/erlang/erl_peer.erl) on
# this machine, for a side-by-side look at the JVM suite's table. Needs erl
# and erlc (Debian: apt-get install erlang-base); prints one Clojure map.
# Optional argument: a scale for every count (default 1.0, the suite's).
set -euo pipefail
if ! command -v erlc >/dev/null || ! command -v erl >/dev/null; then
  echo "bench/erlang/run.sh: erl/erlc not found; install Erlang/OTP (Debian: apt-get install -y erlang-base)" >&2
  exit 2
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
erlc -o "$out" "$(dirname "$0")/erl_peer.erl"
scale=$(awk -v s="${1:-1.0}" 'BEGIN { printf "%f", s }')
# +P: room for W1's million processes (the default limit is 262,144); no crash dump file
ERL_CRASH_DUMP_SECONDS=0 erl +P 2000000 -noshell -sname "erl_peer_a_$$" -setcookie tasklet-bench -pa "$out" \
  -eval "erl_peer:main(\"$scale\")."
