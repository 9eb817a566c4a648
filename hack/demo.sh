#!/usr/bin/env bash
# The operator doing its job on this machine, with nothing installed but the build tools:
# a local Kubernetes control plane (tests/control-plane), the IVS Chat emulator
# (ivschat-emulator) standing in for AWS, the operator, and the manifests in examples/.
#
# Usage: hack/demo.sh up     build what is missing, start everything, apply examples/, wait
#                            until every example is Ready, show it (`make demo`)
#        hack/demo.sh down   stop everything `up` started (`make demo-down`)
#
# Environment:
#   DEMO_NONINTERACTIVE=1  `up` also edits a room, changes one behind the operator's back,
#                          checks that both converge, then stops everything; non-zero exit if
#                          anything is not Ready (`make demo-ci`, run by .ci/run).
#   DEMO_DIR               state, pids and logs (default: .demo in the repository)
#
# State in DEMO_DIR: control-plane/ (kubeconfig, etcd, logs), emulator-state.json,
# *.pid, *.log. Every process is started in its own session and stopped by its pid.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
mkdir -p "${DEMO_DIR:-$ROOT/.demo}"
DEMO_DIR="$(cd "${DEMO_DIR:-$ROOT/.demo}" && pwd)"
CP_DIR="$DEMO_DIR/control-plane"
NONINTERACTIVE="${DEMO_NONINTERACTIVE:-0}"
[[ "$NONINTERACTIVE" == 0 || -z "$NONINTERACTIVE" ]] && NONINTERACTIVE="" || NONINTERACTIVE=1
NS=ivschat-demo
CARGO="${CARGO:-cargo}"
BIN_DIR="$ROOT/target/control-plane/bin"          # kubectl matching the server
CARGO_BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ "$CARGO_BIN_DIR" = /* ]] || CARGO_BIN_DIR="$ROOT/$CARGO_BIN_DIR"
CARGO_BIN_DIR="$CARGO_BIN_DIR/debug"
EMULATOR_BIN="$CARGO_BIN_DIR/ivschat-emulator"
OPERATOR_BIN="$CARGO_BIN_DIR/ivschat-operator"
# The emulator only checks that a request is signed, not the signature; the region comes
# from the credential scope.
AUTH='Authorization: AWS4-HMAC-SHA256 Credential=demo/20260101/us-east-1/ivschat/aws4_request, SignedHeaders=host, Signature=0'

if [[ -t 1 ]]; then BOLD=$'\e[1m' DIM=$'\e[2m' RED=$'\e[31m' OFF=$'\e[0m'; else BOLD="" DIM="" RED="" OFF=""; fi
T0=$SECONDS
CP_STARTED=""
step() { printf '\n%s==> %s%s %s(+%ds)%s\n' "$BOLD" "$*" "$OFF" "$DIM" $((SECONDS - T0)) "$OFF"; }
say() { printf '%s\n' "$*"; }
die() { printf '%sdemo: %s%s\n' "$RED" "$*" "$OFF" >&2; exit 1; }

alive() { # pid is running and not a zombie
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# running NAME: the process recorded in DEMO_DIR/NAME.pid runs and is still NAME.
running() {
  local pid
  [[ -f "$DEMO_DIR/$1.pid" ]] || return 1
  pid="$(tr -dc 0-9 <"$DEMO_DIR/$1.pid")" || return 1
  [[ -n "$pid" ]] && alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$1"
}

# stop NAME: SIGTERM the process in DEMO_DIR/NAME.pid (if it is still NAME), wait, SIGKILL
# after 30 s.
stop() {
  local name="$1" pid i
  if running "$name"; then
    pid="$(tr -dc 0-9 <"$DEMO_DIR/$name.pid")"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      say "demo: $name (pid $pid) ignored SIGTERM for 30 s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    say "stopped $name (pid $pid)"
  fi
  rm -f "$DEMO_DIR/$name.pid"
}

down() {
  stop ivschat-operator
  stop ivschat-emulator
  if [[ -f "$CP_DIR/pid" ]] && alive "$(tr -dc 0-9 <"$CP_DIR/pid")"; then
    tests/control-plane/down.sh "$CP_DIR"
    say "stopped the control plane"
  fi
  rm -f "$DEMO_DIR/endpoint" "$DEMO_DIR/metrics-addr"
}

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A free loopback port: PREFERRED if free, else one the kernel picks.
pick_port() {
  if port_free "$1"; then echo "$1"; return; fi
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ivschat OPERATION JSON: one IVS Chat API call to the emulator (what `aws ivschat` would do).
ivschat() {
  curl -sS --fail-with-body -X POST "$(cat "$DEMO_DIR/endpoint")/$1" \
    -H "$AUTH" -H 'Content-Type: application/json' -d "$2"
}

pretty() { python3 -m json.tool 2>/dev/null || cat; }

# json_get PATH: a value from the JSON on stdin, e.g. `json_get room.maximumMessageLength`.
json_get() {
  python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k]
print(v)' "$1"
}

show_logs() {
  local f n
  for f in "$DEMO_DIR/ivschat-operator.log:40" "$DEMO_DIR/ivschat-emulator.log:10" "$CP_DIR/control-plane.log:10"; do
    n="${f##*:}" f="${f%:*}"
    [[ -s "$f" ]] || continue
    printf '\n---- last lines of %s ----\n' "$f" >&2
    tail -n "$n" "$f" >&2
  done
}

# On failure: show what is known, then stop everything (a new `make demo` starts clean).
failed() {
  local rc=$?
  trap - EXIT
  if [[ $rc -ne 0 ]]; then
    printf '\n%sdemo: failed (exit %d); state of the examples and the last log lines follow%s\n' "$RED" "$rc" "$OFF" >&2
    if [[ -n "$CP_STARTED" ]]; then
      "$BIN_DIR/kubectl" --kubeconfig "$CP_DIR/kubeconfig" get chatrooms,chatloggingconfigurations -n "$NS" -o wide >&2 || true
      "$BIN_DIR/kubectl" --kubeconfig "$CP_DIR/kubeconfig" get events -n "$NS" --sort-by=.metadata.creationTimestamp >&2 || true
    fi
    show_logs
    say "" >&2
    down >&2 || true
    say "Logs are kept in $DEMO_DIR." >&2
  elif [[ -n "$NONINTERACTIVE" ]]; then
    step "Stopping everything (non-interactive mode)"
    down
  fi
  exit "$rc"
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed: $2"
}

up() {
  need "$CARGO" "install the Rust toolchain (rustup), see the README"
  need go "the local control plane is built from Go modules: install Go >= 1.26"
  need curl "needed to talk to the emulator and the operator's /readyz"
  need python3 "needed to format JSON and pick free ports"

  if running ivschat-operator && running ivschat-emulator && [[ -f "$CP_DIR/kubeconfig" ]] \
    && [[ -f "$CP_DIR/pid" ]] && alive "$(tr -dc 0-9 <"$CP_DIR/pid")" && [[ -z "$NONINTERACTIVE" ]]; then
    export KUBECONFIG="$CP_DIR/kubeconfig" PATH="$BIN_DIR:$PATH"
    step "The demo is already running; re-applying examples/"
  else
    trap failed EXIT
    down >/dev/null
    step "Building the local Kubernetes control plane (Go; ~11 min the very first time, cached afterwards)"
    tests/control-plane/build.sh
    export PATH="$BIN_DIR:$PATH"

    step "Building ivschat-operator and ivschat-emulator (cargo build --workspace --bins)"
    "$CARGO" build --locked --workspace --bins
    [[ -x "$OPERATOR_BIN" && -x "$EMULATOR_BIN" ]] || die "built, but $OPERATOR_BIN or $EMULATOR_BIN is missing"

    step "Starting the control plane (kube-apiserver 1.36 + etcd + kube-controller-manager) in $CP_DIR"
    KUBECONFIG="$(tests/control-plane/up.sh "$CP_DIR")"
    export KUBECONFIG
    CP_STARTED=1

    step "Starting the IVS Chat emulator (state in ${DEMO_DIR#"$ROOT"/}/emulator-state.json)"
    # A fresh control plane has no ChatRooms, so the rooms of a previous run would be orphans.
    rm -f "$DEMO_DIR/emulator-state.json"
    local port
    port="$(pick_port 4599)"
    setsid nohup "$EMULATOR_BIN" --listen "127.0.0.1:$port" \
      --state-file "$DEMO_DIR/emulator-state.json" \
      --logging-configuration-delay 2000 \
      </dev/null >"$DEMO_DIR/ivschat-emulator.out" 2>"$DEMO_DIR/ivschat-emulator.log" &
    echo $! >"$DEMO_DIR/ivschat-emulator.pid"
    local i
    for ((i = 0; i < 200; i++)); do
      grep -q '^LISTENING ' "$DEMO_DIR/ivschat-emulator.out" 2>/dev/null && break
      running ivschat-emulator || die "the emulator exited: $(tail -n 5 "$DEMO_DIR/ivschat-emulator.log")"
      sleep 0.1
    done
    sed -n 's/^LISTENING //p' "$DEMO_DIR/ivschat-emulator.out" | head -n 1 >"$DEMO_DIR/endpoint"
    [[ -s "$DEMO_DIR/endpoint" ]] || die "the emulator did not start within 20 s"
    say "emulator at $(cat "$DEMO_DIR/endpoint") (pid $(cat "$DEMO_DIR/ivschat-emulator.pid")): logging configurations spend 2 s in CREATING, like AWS"

    step "Installing the CRDs (crds/crds.yaml)"
    kubectl apply --server-side -f crds/crds.yaml
    kubectl wait --for condition=established --timeout=60s \
      crd/chatrooms.ivschat.operators.dev crd/chatloggingconfigurations.ivschat.operators.dev

    step "Starting the operator (all namespaces, AWS = the emulator)"
    local metrics_port
    metrics_port="$(pick_port 8080)"
    echo "127.0.0.1:$metrics_port" >"$DEMO_DIR/metrics-addr"
    # Only what the operator needs: a profile or IVSCHAT_OPERATOR_* settings from the calling
    # shell must not redirect the demo to a real AWS account or change its flags.
    setsid nohup env -i PATH="$PATH" HOME="${HOME:-/tmp}" KUBECONFIG="$KUBECONFIG" \
      AWS_ENDPOINT_URL_IVSCHAT="$(cat "$DEMO_DIR/endpoint")" AWS_REGION=us-east-1 \
      AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_EC2_METADATA_DISABLED=true NO_COLOR=1 \
      "$OPERATOR_BIN" run \
      --leader-election=false --cluster-name demo \
      --metrics-addr "127.0.0.1:$metrics_port" \
      --drift-poll-interval 5s --resync-period 1m \
      </dev/null >/dev/null 2>"$DEMO_DIR/ivschat-operator.log" &
    echo $! >"$DEMO_DIR/ivschat-operator.pid"
    for ((i = 0; i < 600; i++)); do
      curl -fsS "http://127.0.0.1:$metrics_port/readyz" >/dev/null 2>&1 && break
      running ivschat-operator || die "the operator exited: $(tail -n 5 "$DEMO_DIR/ivschat-operator.log")"
      sleep 0.1
    done
    curl -fsS "http://127.0.0.1:$metrics_port/readyz" >/dev/null || die "the operator is not ready after 60 s"
    say "operator ready (pid $(cat "$DEMO_DIR/ivschat-operator.pid")), metrics at http://127.0.0.1:$metrics_port/metrics"
  fi

  step "Applying examples/ (kubectl apply -f examples/)"
  kubectl apply -f examples/
  sleep 1
  kubectl get chatloggingconfigurations,chatrooms -n "$NS"

  step "Waiting until every example is Ready"
  # One kind at a time: kubectl wait shares one timeout across all objects, so after the first
  # timeout it would report every later object as timed out too.
  kubectl wait --for=condition=Ready chatloggingconfiguration --all -n "$NS" --timeout=120s
  kubectl wait --for=condition=Ready chatroom --all -n "$NS" --timeout=120s

  step "kubectl get chatrooms,chatloggingconfigurations -n $NS -o wide"
  kubectl get chatrooms,chatloggingconfigurations -n "$NS" -o wide

  step "The rooms as AWS (the emulator) sees them: ListRooms"
  ivschat ListRooms '{}' | pretty
  step "... and the logging configurations: ListLoggingConfigurations"
  ivschat ListLoggingConfigurations '{}' | pretty

  if [[ -n "$NONINTERACTIVE" ]]; then
    tour
  else
    next_steps
  fi
}

# GetRoom of the example room `keynote`, as JSON.
get_keynote() {
  ivschat GetRoom "{\"identifier\": \"$(kubectl get chatroom keynote -n "$NS" -o jsonpath='{.status.arn}')\"}"
}

# wait_length N: until AWS reports maximumMessageLength N for `keynote` (60 s).
wait_length() {
  local i got=""
  for ((i = 0; i < 120; i++)); do
    got="$(get_keynote | json_get maximumMessageLength)"
    [[ "$got" == "$1" ]] && return 0
    sleep 0.5
  done
  die "keynote: maximumMessageLength is $got in AWS, expected $1"
}

# What the README's next steps tell a user to try, checked.
tour() {
  local arn generation
  arn="$(kubectl get chatroom keynote -n "$NS" -o jsonpath='{.status.arn}')"

  step "Editing a room: maximumMessageLength 280 -> 300"
  kubectl patch chatroom keynote -n "$NS" --type merge -p '{"spec":{"maximumMessageLength":300}}'
  generation="$(kubectl get chatroom keynote -n "$NS" -o jsonpath='{.metadata.generation}')"
  kubectl wait --for=jsonpath='{.status.observedGeneration}'="$generation" chatroom/keynote -n "$NS" --timeout=60s
  kubectl wait --for=condition=Ready chatroom/keynote -n "$NS" --timeout=60s
  wait_length 300
  say "AWS: maximumMessageLength $(get_keynote | json_get maximumMessageLength)"

  step "Changing the room behind the operator's back (UpdateRoom maximumMessageLength 42)"
  ivschat UpdateRoom "{\"identifier\": \"$arn\", \"maximumMessageLength\": 42}" | pretty
  local t=$SECONDS
  wait_length 300
  say "reverted to 300 by the operator after $((SECONDS - t)) s (drift poll every 5 s)"

  step "Checking that every example is still Ready"
  kubectl wait --for=condition=Ready chatloggingconfiguration --all -n "$NS" --timeout=60s
  kubectl wait --for=condition=Ready chatroom --all -n "$NS" --timeout=60s
  kubectl get events -n "$NS" --sort-by=.metadata.creationTimestamp
  step "Demo OK in $((SECONDS - T0)) s"
}

next_steps() {
  local endpoint metrics arn
  endpoint="$(cat "$DEMO_DIR/endpoint")"
  metrics="$(cat "$DEMO_DIR/metrics-addr")"
  arn="$(kubectl get chatroom keynote -n "$NS" -o jsonpath='{.status.arn}')"
  cat <<EOF

${BOLD}The demo is running${OFF} (ready in $((SECONDS - T0)) s): a control plane, the IVS Chat emulator at
$endpoint and the operator (metrics at http://$metrics/metrics). Logs: $DEMO_DIR/*.log.

${BOLD}Point kubectl at it${OFF} (the kubectl built for this server is in target/control-plane/bin):
  export KUBECONFIG=$CP_DIR/kubeconfig
  export PATH=$BIN_DIR:\$PATH
  kubectl get ivschat -n $NS                      # both kinds (category ivschat)
  kubectl describe chatroom keynote -n $NS        # conditions and Events

${BOLD}Edit a room and watch it converge${OFF}:
  kubectl get chatroom -n $NS -w &
  kubectl patch chatroom keynote -n $NS --type merge -p '{"spec":{"maximumMessageLength":300}}'
  kubectl edit chatroom keynote -n $NS            # or edit any field interactively

${BOLD}Change the room behind the operator's back and watch it revert${OFF} (drift poll every 5 s):
  curl -s $endpoint/UpdateRoom -H '$AUTH' \\
    -d '{"identifier": "$arn", "maximumMessageLength": 42}'
  sleep 6; curl -s $endpoint/GetRoom -H '$AUTH' \\
    -d '{"identifier": "$arn"}'
  kubectl get events -n $NS                       # UpdatedExternalResource

${BOLD}Delete${OFF}: kubectl delete chatroom keynote -n $NS   (backstage has deletionPolicy: Retain and stays in AWS)

${BOLD}Stop everything${OFF}: make demo-down
EOF
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
