#!/usr/bin/env bash
# Just-in-time SSH access on this machine, from "grant defined" to "ssh with a 15-minute certificate" and
# back: a collector with the shipped policy (its grant ops-ssh: members of group ops, their own name as the
# principal, 15 minutes), this machine's agent serving the access socket and keeping the KRL, this machine's
# sshd on a loopback port trusting the collector's SSH CA, and a throwaway user in group ops who asks with
# posturectl and logs in with stock ssh; then the device is quarantined and the KRL refuses the certificate.
# The shipped policy's rules this machine fails are waived for an hour first (a demo machine is rarely a
# compliant laptop), the way an operator would. Everything lives in a new /tmp/posture-access.* directory;
# the user and the processes are removed at the end.
# Usage: packaging/dev/access-demo.sh [--bin DIR]   (default: a release build, as the quick start makes)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root "$@"
bin=.build/release
[ "${1:-}" = "--bin" ] && bin=$2
if [ "$bin" = .build/release ]; then
    install_packages
    install_apt_packages openssh-server
    swift build -c release --product postured
    swift build -c release --product posture-collector
fi
work=$(mktemp -d /tmp/posture-access.XXXXXX)
chmod 755 "$work"
user=posture-demo-$RANDOM
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    userdel -r -f "$user" 2>/dev/null || true
}
trap cleanup EXIT
collector() { "$bin/posture-collector" "$@" --state-dir "$work/collector"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "== collector (shipped policy, etc/posture/policy.yaml: see its access.grants)"
"$bin/posture-collector" serve --state-dir "$work/collector" --policy etc/posture/policy.yaml \
    --listen-enrollment 127.0.0.1:0 --listen-devices 127.0.0.1:0 --listen-api 127.0.0.1:0 >"$work/collector.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening api' "$work/collector.log" && break; sleep 0.1; done
enroll_url=$(awk '/^listening enrollment/ {print $3}' "$work/collector.log")
"$bin/postured" enroll --collector "$enroll_url" --token "$(collector token create)" \
    --ca-fingerprint "$(collector ca fingerprint)" --state-dir "$work/agent" >/dev/null
device=$("$bin/postured" status --state-dir "$work/agent" --format json | jq -r .device)
device=${device##*/}

echo "== agent: access socket $work/access.sock, KRL kept in $work/revoked.krl"
# Machines without journald (containers, these build VMs) report the journal unavailable, which the shipped
# policy counts as unknown: the demo's agent reads a journal file of one harmless entry instead.
mkdir "$work/journal"
printf '__REALTIME_TIMESTAMP=%s\n__MONOTONIC_TIMESTAMP=1\n_BOOT_ID=%s\nMESSAGE=posture access demo\n\n' \
    "$(date +%s%6N)" "$(tr -d - </proc/sys/kernel/random/boot_id)" |
    /lib/systemd/systemd-journal-remote -o "$work/journal/demo.journal" - 2>/dev/null
"$bin/postured" run --state-dir "$work/agent" --interval 5s --journal-directory "$work/journal" \
    --access-socket "$work/access.sock" \
    --revoked-keys-file "$work/revoked.krl" --krl-refresh 1s >"$work/agent.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/revoked.krl" ] && grep -q -- '-> ' "$work/agent.log" && break; sleep 0.1; done
verdict() { collector devices verdict "$device" | head -1; }
for rule in $(verdict | jq -r '.failing[].rule, .unknown[].rule'); do
    collector waivers create --rule "$rule" --device "$device" --for 1h --reason "access demo" --by demo >/dev/null
    echo "   waived $rule for an hour on this demo machine"
done
sleep 1
verdict | jq -r '"   verdict: \(.status), risk \(.risk)"'

echo "== this machine as an SSH target: TrustedUserCAKeys and RevokedKeys"
collector ssh ca >"$work/posture-user-ca.pub"
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
port=$(free_port)
cat >"$work/sshd_config" <<EOF
ListenAddress 127.0.0.1:$port
HostKey $work/host_key
TrustedUserCAKeys $work/posture-user-ca.pub
RevokedKeys $work/revoked.krl
AuthorizedKeysFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile none
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
pids+=($!)
for _ in $(seq 50); do grep -qs 'Server listening' "$work/sshd.log" && break; sleep 0.1; done

echo "== $user (group ops) asks for a certificate and logs in with stock ssh"
groupadd -f ops
useradd -m -G ops -s /bin/sh "$user"
usermod -p '*' "$user"
as_user() { runuser -u "$user" -- env HOME="/home/$user" "$@"; }
as_user sh -c 'mkdir -p -m 700 ~/.ssh && ssh-keygen -q -t ed25519 -N "" -f ~/.ssh/id_ed25519'
ln -sf "$(cd "$bin" && pwd)/postured" "$work/posturectl"
as_user "$work/posturectl" ssh certificate --grant ops-ssh --socket "$work/access.sock"
ssh_login() {
    as_user ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
        -p "$port" "$user@127.0.0.1" "$@"
}
echo "   logged in as: $(ssh_login id -un)"

echo "== the device is quarantined: the KRL refuses the certificate"
start=$(date +%s.%N)
collector devices quarantine "$device" --reason "access demo" --by demo >/dev/null
until ssh-keygen -Q -f "$work/revoked.krl" "/home/$user/.ssh/id_ed25519-cert.pub" >/dev/null 2>&1; [ $? -eq 1 ]; do
    sleep 0.05
done
echo "   in the KRL $(awk "BEGIN {printf \"%.2f\", $(date +%s.%N) - $start}") s after the quarantine"
ssh_login true && echo "   UNEXPECTED: still logged in" || echo "   login refused (sshd: $(grep -o 'revoked by file' "$work/sshd.log" | head -1))"
as_user "$work/posturectl" ssh certificate --grant ops-ssh --socket "$work/access.sock" || true
echo "== audit trail: $(collector audit verify)"
