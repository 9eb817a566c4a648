#!/usr/bin/env bash
# Runs the ivschat-operator benchmark end to end: builds the release binaries, starts a local
# test control plane (tests/control-plane/up.sh, into target/bench/cp), runs ivschat-bench
# (which starts the emulator with quotas on and 50 ms latency, and the operator), prints the
# table, writes target/bench/results.json, plots target/bench/performance-convergence.png, and
# stops what it started, by PID, even on failure.
#
# Usage: bench/run.sh [--quick] [--existing-cluster] [--debug] [ivschat-bench flags...]
#   --quick             N = 50 only (CI): fails on any ThrottlingException or a room not Ready
#   --existing-cluster  use the API server of $KUBECONFIG instead of starting a control plane
#   --debug             use debug binaries (CI: `make test` has built them; a cold release
#                       build takes ~20 min on 2 cores). Timings are then not representative.
# Full run: about 25 minutes on 2 cores (after the build).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
CARGO="${CARGO:-cargo}"
OUT="$ROOT/target/bench"
CP_DIR="$ROOT/target/bench/cp"

QUICK=0
EXISTING=0
PROFILE=release
PASS=()
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1; PASS+=(--quick); OUT="$ROOT/target/bench/quick" ;;
    --existing-cluster) EXISTING=1 ;;
    --debug) PROFILE=debug ;;
    *) PASS+=("$arg") ;;
  esac
done

if [[ $PROFILE == release ]]; then
  "$CARGO" build --release --locked -p ivschat-operator -p ivschat-emulator -p ivschat-bench
else
  "$CARGO" build --locked -p ivschat-operator -p ivschat-emulator -p ivschat-bench
fi
BIN="$ROOT/target/$PROFILE"

STARTED_CP=0
cleanup() {
  local rc=$?
  if [[ $STARTED_CP == 1 ]]; then
    tests/control-plane/down.sh "$CP_DIR" || echo "bench/run.sh: stopping the control plane failed" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT

if [[ $EXISTING == 1 ]]; then
  : "${KUBECONFIG:?--existing-cluster needs KUBECONFIG}"
else
  mkdir -p "$OUT"
  tests/control-plane/down.sh "$CP_DIR"   # leftovers from an interrupted run
  rm -rf "$CP_DIR/etcd"                   # start from an empty cluster
  STARTED_CP=1
  KUBECONFIG="$(tests/control-plane/up.sh "$CP_DIR")"
  export KUBECONFIG
fi

# The emulator and operator are children of ivschat-bench; it stops them itself (and they
# die with it: kill_on_drop).
"$BIN/ivschat-bench" \
  --bin-dir "$BIN" \
  --out-dir "$OUT" \
  ${PASS[@]+"${PASS[@]}"}

if [[ $QUICK == 0 ]]; then
  python3 bench/plot.py "$OUT/results.json" "$OUT/performance-convergence.png" \
    || echo "bench/run.sh: plot skipped (pip install matplotlib)" >&2
fi
