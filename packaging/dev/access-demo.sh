#!/usr/bin/env bash
# Just-in-time access on this machine, from "grant defined" to "ssh with a 15-minute certificate" and "sudo
# for 30 minutes", and back: a collector with the shipped policy (its grants ops-ssh: members of group ops,
# their own name as the principal, 15 minutes; ops-sudo: sudo for up to 30 minutes once an operator
# approves), this machine's agent serving the access socket, keeping the KRL and writing sudo grants to
# /etc/sudoers.d, this machine's sshd on a loopback port trusting the collector's SSH CA, and a throwaway
# user in group ops who asks with posturectl, logs in with stock ssh and, once approved, runs sudo; then the
# device is quarantined: the KRL refuses the certificate and the sudo grant is gone.
# The shipped policy's rules this machine fails are waived for an hour first (a demo machine is rarely a
# compliant laptop), the way an operator would. Everything lives in a new /tmp/posture-access.* directory;
# the user, the processes and any sudoers drop-in for the user are removed at the end.
# Usage: packaging/dev/access-demo.sh [--bin DIR]   (default: a release build, as the quick start makes)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root "$@"
bin=.build/release
[ "${1:-}" = "--bin" ] && bin=$2
if [ "$bin" = .build/release ]; then
    install_packages
    install_apt_packages openssh-server sudo
    swift build -c release --product postured
    swift build -c release --product posture-collector
fi
work=$(mktemp -d /tmp/posture-access.XXXXXX)
chmod 755 "$work"
user=posture-demo-$RANDOM
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    # Only the drop-ins naming the demo user's uid: an agent installed here keeps its own.
    [ -n "${uid:-}" ] && grep -l "^#$uid " /etc/sudoers.d/posture-grant-* 2>/dev/null | xargs -r rm -f
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
api_url=$(awk '/^listening api/ {print $3}' "$work/collector.log")
"$bin/postured" enroll --collector "$enroll_url" --token "$(collector token create)" \
    --ca-fingerprint "$(collector ca fingerprint)" --state-dir "$work/agent" >/dev/null
device=$("$bin/postured" status --state-dir "$work/agent" --format json | jq -r .device)
device=${device##*/}

echo "== agent: access socket $work/access.sock, KRL kept in $work/revoked.krl, sudo grants in /etc/sudoers.d"
# Machines without journald (containers, these build VMs) report the journal unavailable, which the shipped
# policy counts as unknown: the demo's agent reads a journal file of one harmless entry instead.
mkdir "$work/journal"
printf '__REALTIME_TIMESTAMP=%s\n__MONOTONIC_TIMESTAMP=1\n_BOOT_ID=%s\nMESSAGE=posture access demo\n\n' \
    "$(date +%s%6N)" "$(tr -d - </proc/sys/kernel/random/boot_id)" |
    /lib/systemd/systemd-journal-remote -o "$work/journal/demo.journal" - 2>/dev/null
"$bin/postured" run --state-dir "$work/agent" --interval 5s --journal-directory "$work/journal" \
    --access-socket "$work/access.sock" \
    --revoked-keys-file "$work/revoked.krl" --krl-refresh 1s \
    --sudoers-directory /etc/sudoers.d --grant-refresh 1s >"$work/agent.log" 2>&1 &
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
uid=$(id -u "$user")
as_user() { runuser -u "$user" -- env HOME="/home/$user" "$@"; }
as_user sh -c 'mkdir -p -m 700 ~/.ssh && ssh-keygen -q -t ed25519 -N "" -f ~/.ssh/id_ed25519'
ln -sf "$(cd "$bin" && pwd)/postured" "$work/posturectl"
as_user "$work/posturectl" ssh certificate --grant ops-ssh --socket "$work/access.sock"
ssh_login() {
    as_user ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
        -p "$port" "$user@127.0.0.1" "$@"
}
echo "   logged in as: $(ssh_login id -un)"

echo "== $user asks for sudo for 30 minutes; an operator approves it through the API"
as_user "$work/posturectl" access request --grant ops-sudo --for 30m --reason "access demo" --socket "$work/access.sock" |
    tee "$work/sudo-request.txt"
request=$(grep -o 'sudo request [0-9]*' "$work/sudo-request.txt" | awk '{print $3}')
collector apitoken create --name demo --scope fleet:read --scope fleet:write >"$work/token"
chmod 600 "$work/token"
"$work/posturectl" access approve "$request" --reason "access demo" \
    --collector "$api_url" --token-file "$work/token" --ca "$work/collector/ca.crt"
for _ in $(seq 50); do ls /etc/sudoers.d/posture-grant-"$request"-* >/dev/null 2>&1 && break; sleep 0.1; done
echo "   $(ls /etc/sudoers.d/posture-grant-"$request"-*): $(grep '^#[0-9]' /etc/sudoers.d/posture-grant-"$request"-*)"
echo "   sudo -n id -un: $(as_user sudo -n id -un)"

echo "== the device is quarantined: the KRL refuses the certificate, the sudo grant is removed"
start=$(date +%s.%N)
collector devices quarantine "$device" --reason "access demo" --by demo >/dev/null
until ssh-keygen -Q -f "$work/revoked.krl" "/home/$user/.ssh/id_ed25519-cert.pub" >/dev/null 2>&1; [ $? -eq 1 ]; do
    sleep 0.05
done
echo "   in the KRL $(awk "BEGIN {printf \"%.2f\", $(date +%s.%N) - $start}") s after the quarantine"
ssh_login true && echo "   UNEXPECTED: still logged in" || echo "   login refused (sshd: $(grep -o 'revoked by file' "$work/sshd.log" | head -1))"
until ! ls /etc/sudoers.d/posture-grant-"$request"-* >/dev/null 2>&1; do sleep 0.05; done
echo "   sudo grant removed $(awk "BEGIN {printf \"%.2f\", $(date +%s.%N) - $start}") s after the quarantine"
as_user sudo -n id -un 2>/dev/null && echo "   UNEXPECTED: sudo still works" || echo "   sudo -n refused"
as_user "$work/posturectl" ssh certificate --grant ops-ssh --socket "$work/access.sock" || true
"$work/posturectl" access grants --device "$device" --collector "$api_url" --token-file "$work/token" \
    --ca "$work/collector/ca.crt"
echo "== audit trail: $(collector audit verify)"
