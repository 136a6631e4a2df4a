#!/usr/bin/env bash
# The main job, from a fresh clone: install what is needed, build, start a collector on loopback with the
# embedded SQLite store, enroll this machine's agent into a temporary state directory, send three signed
# attestations over mutual TLS, and show the device as the collector sees it and its verdict under the
# shipped policy (etc/posture/policy.yaml), pulled as a signed JWT the way a policy engine would; then
# the fleet as an operator sees it through posturectl (and, with --keep, the dashboard).
# Usage: packaging/dev/quickstart.sh [--keep]   (--keep leaves the collector running and prints how to stop it)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root "$@"
install_packages
swift build -c release --product postured
swift build -c release --product posture-collector
bin=.build/release
work=$(mktemp -d /tmp/posture-demo.XXXXXX)
keep=false
[ "${1:-}" = "--keep" ] && keep=true

echo "== collector: state in $work/collector, log in $work/collector.log"
$bin/posture-collector serve --state-dir "$work/collector" --policy etc/posture/policy.yaml \
    --listen-enrollment 127.0.0.1:0 --listen-devices 127.0.0.1:0 --listen-api 127.0.0.1:0 >"$work/collector.log" 2>&1 &
collector=$!
$keep || trap 'kill $collector 2>/dev/null; wait $collector 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q '^listening api' "$work/collector.log" && break; sleep 0.1; done
enroll_url=$(awk '/^listening enrollment/ {print $3}' "$work/collector.log")
api_url=$(awk '/^listening api/ {print $3}' "$work/collector.log")
[ -n "$enroll_url" ] || { cat "$work/collector.log"; exit 1; }
token=$($bin/posture-collector token create --state-dir "$work/collector" --label demo=quickstart)
pin=$($bin/posture-collector ca fingerprint --state-dir "$work/collector")
echo "   enrollment at $enroll_url, CA pin $pin"

echo "== agent: enroll (state in $work/agent)"
$bin/postured enroll --collector "$enroll_url" --token "$token" --ca-fingerprint "$pin" --state-dir "$work/agent"
echo "== agent: three signed attestations, two seconds apart"
$bin/postured run --state-dir "$work/agent" --interval 2s --count 3
$bin/postured status --state-dir "$work/agent"

echo "== the collector's view"
$bin/posture-collector devices list --state-dir "$work/collector"
device=$(awk '/^device / {print $2; exit}' < <($bin/postured status --state-dir "$work/agent" | sed 's|^device *spiffe://[^/]*/device/|device |'))
$bin/posture-collector devices show "$device" --format table --state-dir "$work/collector"

echo "== its verdict, as a policy engine pulls it (JSON and a JWT verifiable with $api_url/.well-known/jwks.json)"
api_token=$($bin/posture-collector apitoken create --name quickstart --scope verdict:read --state-dir "$work/collector")
curl -sS --cacert "$work/collector/ca.crt" -H "Authorization: Bearer $api_token" "$api_url/v1/devices/$device/verdict" |
    jq '{status: .verdict.status, risk: .verdict.risk, failing: [.verdict.failing[] | "\(.rule): \(.observed)"], excused: [.verdict.excused[] | "\(.rule) (\(.state) until \(.until))"], unknown: [.verdict.unknown[] | "\(.rule): \(.observed)"], jwt: (.jwt[0:40] + "...")}'
echo "== the fleet, as an operator sees it (posturectl over the API; the dashboard at $api_url/ui)"
ops_token_file="$work/operator.token"
(umask 077 && $bin/posture-collector apitoken create --name quickstart-operator --scope fleet:read \
    --scope fleet:write --state-dir "$work/collector" >"$ops_token_file")
ln -sf "$(pwd)/$bin/postured" "$work/posturectl"
export POSTURE_COLLECTOR="$api_url" POSTURE_TOKEN_FILE="$ops_token_file" POSTURE_CA="$work/collector/ca.crt"
"$work/posturectl" fleet summary
"$work/posturectl" devices list
if $keep; then
    echo "collector still running (pid $collector); stop it with: kill $collector"
    echo "dashboard: $api_url/ui (sign in with the token in $ops_token_file); posturectl: $work/posturectl"
    echo "   with POSTURE_COLLECTOR=$api_url POSTURE_TOKEN_FILE=$ops_token_file POSTURE_CA=$work/collector/ca.crt"
fi
