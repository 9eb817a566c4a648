#!/usr/bin/env bash
# Stops the control plane started by up.sh DIR, and the kube-controller-manager
# it started, by PID (DIR/pid, DIR/kcm.pid). Waits until they have exited.
# Idempotent: succeeds when nothing runs. State (DIR/etcd, logs) is kept.
#
# Usage: tests/control-plane/down.sh DIR
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
DIR="$1"
[[ -d "$DIR" ]] || exit 0

alive() { # pid is running and not a zombie
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# stop PIDFILE NAME: SIGTERM, wait up to 60s, then SIGKILL. Only signals the
# pid if its command line still names NAME (guards against pid reuse).
stop() {
  local pidfile="$1" name="$2" pid i
  [[ -f "$pidfile" ]] || return 0
  pid="$(tr -dc 0-9 <"$pidfile")"
  if [[ -z "$pid" ]] || ! alive "$pid" || ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name"; then
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 600; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    echo "down.sh: $name (pid $pid) did not exit after SIGTERM within 60s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
  fi
  rm -f "$pidfile"
}

# The control plane stops its controller manager itself; kcm.pid is a fallback
# in case the control plane was killed hard.
stop "$DIR/pid" control-plane
stop "$DIR/kcm.pid" kube-controller-manager
