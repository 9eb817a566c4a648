#!/usr/bin/env bash
# Starts a test control plane (kube-apiserver + embedded etcd + kube-controller-manager)
# in the background, with all state in DIR.
#
# Usage: tests/control-plane/up.sh DIR
#
# Builds the binaries first if needed (see build.sh). Picks free loopback
# ports, so several instances (different DIRs) can run at once. Waits until
# /readyz is ok (at most $CONTROL_PLANE_READY_TIMEOUT seconds, default 120), then
# prints the path of DIR/kubeconfig (cluster-admin) on stdout.
# Writes DIR/pid (control plane), DIR/kcm.pid (controller manager) and logs
# DIR/control-plane.log, DIR/kube-controller-manager.log.
# Stop with tests/control-plane/down.sh DIR.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${CONTROL_PLANE_BIN_DIR:-$ROOT/target/control-plane/bin}"
TIMEOUT="${CONTROL_PLANE_READY_TIMEOUT:-120}"

if [[ $# -ne 1 || -z "$1" ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
mkdir -p "$1"
DIR="$(cd "$1" && pwd)"
LOG="$DIR/control-plane.log"

alive() { # pid is running and not a zombie
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

if [[ -f "$DIR/pid" ]] && alive "$(cat "$DIR/pid")"; then
  echo "control-plane: already running in $DIR (pid $(cat "$DIR/pid")); run $HERE/down.sh $DIR first" >&2
  exit 1
fi

"$HERE/build.sh" >&2

fail() {
  echo "control-plane: $*" >&2
  echo "---- last lines of $LOG ----" >&2
  tail -n 60 "$LOG" >&2 || true
  if [[ -s "$DIR/kube-controller-manager.log" ]]; then
    echo "---- last lines of $DIR/kube-controller-manager.log ----" >&2
    tail -n 20 "$DIR/kube-controller-manager.log" >&2 || true
  fi
  "$HERE/down.sh" "$DIR" >&2 || true
  exit 1
}

start=$(date +%s.%N)
for attempt in 1 2 3; do
  rm -rf "$DIR/etcd" "$DIR/pki" "$DIR/kubeconfig" "$DIR/pid" "$DIR/kcm.pid" "$DIR"/*.log
  # New session (setsid) and SIGHUP ignored (nohup): the control plane outlives
  # this script and the shell that ran it. stdin is /dev/null, so closing the
  # caller's stdin does not matter either. The binary writes DIR/pid itself.
  setsid nohup "$BIN/control-plane" -dir "$DIR" -with-controllers \
    </dev/null >"$LOG" 2>&1 &
  launcher=$!

  deadline=$(( $(date +%s) + TIMEOUT ))
  while :; do
    if grep -q '^READY ' "$LOG" 2>/dev/null; then
      [[ -f "$DIR/pid" ]] || fail "READY but no pid file"
      elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
      echo "control-plane: ready in ${elapsed}s (pid $(cat "$DIR/pid"), server $(awk '/server:/ {print $2; exit}' "$DIR/kubeconfig"))" >&2
      echo "$DIR/kubeconfig"
      exit 0
    fi
    pid="$(cat "$DIR/pid" 2>/dev/null || echo "$launcher")"
    if ! alive "$pid" && ! alive "$launcher"; then
      break
    fi
    if (( $(date +%s) >= deadline )); then
      fail "not ready within ${TIMEOUT}s"
    fi
    sleep 0.2
  done
  # The process exited before becoming ready. A port taken between picking
  # and binding it is retried; anything else is an error.
  if grep -q 'address already in use' "$LOG" 2>/dev/null && (( attempt < 3 )); then
    echo "control-plane: port collision, retrying" >&2
    continue
  fi
  fail "exited before becoming ready"
done
fail "gave up after 3 attempts"
