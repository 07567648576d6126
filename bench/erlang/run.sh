#!/usr/bin/env bash
# Erlang/OTP's figures for W1-W6 and the three Savina workloads
# (bench/erlang/erl_peer.erl) on this machine, for the JVM suite's table.
# Needs erl and erlc (Debian: apt-get install erlang-base); prints one
# Clojure map of every workload's measured runs.
# Arguments: [scale (1.0, the suite's counts)] [runs (5)] [schedulers (erl's
# default: one per core)].
set -euo pipefail
if ! command -v erlc >/dev/null || ! command -v erl >/dev/null; then
  echo "bench/erlang/run.sh: erl/erlc not found; install Erlang/OTP (Debian: apt-get install -y erlang-base)" >&2
  exit 2
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
erlc -o "$out" "$(dirname "$0")/erl_peer.erl"
scale=$(awk -v s="${1:-1.0}" 'BEGIN { printf "%f", s }')
runs="${2:-5}"
sched=()
if [ -n "${3:-}" ]; then sched=(+S "$3:$3"); fi
# +P: room for W1's million processes (the default limit is 262,144); no crash dump file
ERL_CRASH_DUMP_SECONDS=0 erl +P 2000000 "${sched[@]}" -noshell -sname "erl_peer_a_$$" -setcookie tasklet-bench -pa "$out" \
  -eval "erl_peer:main([\"$scale\", \"$runs\"])."
