#!/usr/bin/env bash
# Writes a kubeconfig that authenticates as a ServiceAccount.
#
# Usage: tests/control-plane/sa-kubeconfig.sh KUBECONFIG NAMESPACE SERVICEACCOUNT OUT
#
# Mints a token with the TokenRequest API (POST
# /api/v1/namespaces/NS/serviceaccounts/SA/token, as `kubectl create token`
# does) using the admin KUBECONFIG, and writes OUT with the same server and CA
# and that bearer token. The ServiceAccount must exist. Token lifetime:
# $SA_TOKEN_SECONDS (default 86400).
set -euo pipefail

if [[ $# -ne 4 ]]; then
  echo "usage: $0 KUBECONFIG NAMESPACE SERVICEACCOUNT OUT" >&2
  exit 2
fi
ADMIN="$1" NS="$2" SA="$3" OUT="$4"
SECONDS_="${SA_TOKEN_SECONDS:-86400}"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${CONTROL_PLANE_BIN_DIR:-$ROOT/target/control-plane/bin}"
KUBECTL="$BIN/kubectl"
[[ -x "$KUBECTL" ]] || KUBECTL=kubectl

server="$("$KUBECTL" --kubeconfig "$ADMIN" config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')"
ca="$("$KUBECTL" --kubeconfig "$ADMIN" config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')"
[[ -n "$server" && -n "$ca" ]] || { echo "$0: no server/CA in $ADMIN" >&2; exit 1; }

token="$("$KUBECTL" --kubeconfig "$ADMIN" create token "$SA" -n "$NS" --duration="${SECONDS_}s")"
[[ -n "$token" ]] || { echo "$0: empty token" >&2; exit 1; }

mkdir -p "$(dirname "$OUT")"
tmp="$(mktemp "$OUT.XXXXXX")"
chmod 600 "$tmp"
cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ivschat-test
  cluster:
    server: $server
    certificate-authority-data: $ca
users:
- name: system:serviceaccount:$NS:$SA
  user:
    token: $token
contexts:
- name: $NS-$SA
  context:
    cluster: ivschat-test
    user: system:serviceaccount:$NS:$SA
    namespace: $NS
current-context: $NS-$SA
EOF
mv -f "$tmp" "$OUT"
echo "$OUT"
