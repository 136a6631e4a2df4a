#!/usr/bin/env bash
# Several collectors, one fleet, on this machine: a PostgreSQL 15 cluster of its own, three collectors on it
# holding one CA and one set of signing keys, HAProxy in front of them (TCP mode: mutual TLS passes through
# to the collectors), and this machine's agent enrolled and reporting through HAProxy. Then collector 2 is
# killed with SIGKILL, the agent goes on reporting through the other two, and collector 3 shows the one
# fleet and verifies the one audit trail.
# Usage: packaging/dev/fleet.sh [--keep]   (--keep leaves everything running and prints how to stop it)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root "$@"
install_packages
install_apt_packages postgresql haproxy
# POSTURE_BIN=.build/debug uses binaries already built instead of building the release ones.
bin=${POSTURE_BIN:-}
if [ -z "$bin" ]; then
    swift build -c release --product postured
    swift build -c release --product posture-collector
    bin=.build/release
fi
bin=$(cd "$bin" && pwd)
pg=/usr/lib/postgresql/15/bin
work=$(mktemp -d /tmp/posture-fleet.XXXXXX)
chmod 755 "$work"
keep=false
[ "${1:-}" = "--keep" ] && keep=true
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
stop_all() {
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    runuser -u postgres -- "$pg/pg_ctl" -D "$work/postgres/data" -m fast stop >/dev/null 2>&1 || true
}
$keep || trap stop_all EXIT

echo "== PostgreSQL: a cluster of its own in $work/postgres"
pg_port=$(free_port)
mkdir "$work/postgres" && chown postgres "$work/postgres"
runuser -u postgres -- "$pg/initdb" -D "$work/postgres/data" -A trust -U posture -E UTF8 >/dev/null
runuser -u postgres -- "$pg/pg_ctl" -D "$work/postgres/data" -l "$work/postgres/log" -w \
    -o "-k $work/postgres -c listen_addresses=127.0.0.1 -p $pg_port" start >/dev/null
"$pg/createdb" -h 127.0.0.1 -p "$pg_port" -U posture posture

enrollment_port=$(free_port) devices_port=$(free_port) api_port=$(free_port)
cat >"$work/collector.yaml" <<YAML
devicesURL: https://127.0.0.1:$devices_port
storage:
  driver: postgresql
  url: postgresql://posture@127.0.0.1:$pg_port/posture
YAML
declare -A ports
start_collector() {
    local n=$1
    [ -n "${ports[$n.api]:-}" ] || for listener in enrollment devices api; do ports[$n.$listener]=$(free_port); done
    $bin/posture-collector serve --config "$work/collector.yaml" --state-dir "$work/c$n" \
        --listen-enrollment "127.0.0.1:${ports[$n.enrollment]}" --listen-devices "127.0.0.1:${ports[$n.devices]}" \
        --listen-api "127.0.0.1:${ports[$n.api]}" >>"$work/c$n.log" 2>&1 &
    pids[$n]=$!
    for _ in $(seq 150); do grep -q '^listening api' "$work/c$n.log" && return 0; sleep 0.1; done
    cat "$work/c$n.log"
    exit 1
}
echo "== collectors: the first creates the CA and signing keys; the operator gives the others the same files"
start_collector 1
for n in 2 3; do
    install -d -m 700 "$work/c$n"
    cp -p "$work/c1/"*.crt "$work/c1/"*.key "$work/c$n/"
    [ ! -f "$work/c1/signing-keys.json" ] || cp -p "$work/c1/signing-keys.json" "$work/c$n/"
    start_collector $n
done

echo "== HAProxy in front: enrollment on $enrollment_port, devices on $devices_port, API on $api_port"
{
    printf 'global\n    maxconn 4096\ndefaults\n    mode tcp\n    timeout connect 1s\n    timeout client 120s\n'
    printf '    timeout server 120s\n    retries 2\n    option redispatch\n'
    for listener in enrollment devices api; do
        port_var="${listener}_port"
        printf 'frontend %s\n    bind 127.0.0.1:%s\n    default_backend %s\nbackend %s\n    balance roundrobin\n' \
            "$listener" "${!port_var}" "$listener" "$listener"
        for n in 1 2 3; do
            printf '    server c%s 127.0.0.1:%s check inter 500ms fall 1 rise 1\n' "$n" "${ports[$n.$listener]}"
        done
    done
} >"$work/haproxy.cfg"
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids[4]=$!
sleep 1

echo "== agent: enrolled through HAProxy, three reports"
token=$($bin/posture-collector token create --config "$work/collector.yaml" --state-dir "$work/c1" --label demo=fleet)
pin=$($bin/posture-collector ca fingerprint --config "$work/collector.yaml" --state-dir "$work/c1")
$bin/postured enroll --collector "https://127.0.0.1:$enrollment_port" --token "$token" --ca-fingerprint "$pin" \
    --state-dir "$work/agent"
$bin/postured run --state-dir "$work/agent" --interval 1s --count 3
echo "== collector 2 killed with SIGKILL; three more reports, through the other two"
kill -9 "${pids[2]}"
$bin/postured run --state-dir "$work/agent" --interval 1s --count 3
$bin/postured status --state-dir "$work/agent"

echo "== collector 3's view of the one fleet, and of the one audit trail"
$bin/posture-collector devices list --config "$work/collector.yaml" --state-dir "$work/c3"
$bin/posture-collector audit verify --config "$work/collector.yaml" --state-dir "$work/c3"
if $keep; then
    trap - EXIT
    echo "running: collectors ${pids[1]} ${pids[3]}, HAProxy ${pids[4]}, PostgreSQL in $work/postgres"
    echo "stop with: kill ${pids[1]} ${pids[3]} ${pids[4]}; runuser -u postgres -- $pg/pg_ctl -D $work/postgres/data stop"
fi
