#!/usr/bin/env bash
# A quarantined device rebooted (Debian 12 in systemd-nspawn on a persistent copy of the tree: each boot has
# a new boot ID and an empty /run): logins must be blocked before sshd accepts them, although /run/nologin
# went with /run and systemd-user-sessions removes it at boot, and the collector is out of reach (the
# offline rule keeps the last verdict). Then the collector returns, the device is released, logins open.
# Prints `RESULT key=value` lines for Tests/EndToEndTests/EnforcementTests.swift.
# Usage (root): enforcement-reboot-e2e.sh BUILD_DIR WORK_DIR [ROOTFS]
set -u
bin=$1; work=$2
[ -n "${3:-}" ] && NSPAWN_ROOTFS=$3
name=posture-reboot-$$
mkdir -p "$work"
source "$(dirname "$0")/lib.sh"

NSPAWN_DIRECTORY=$work/machine
nspawn_rootfs || { result rootfs failed; exit 1; }
cp -a "$NSPAWN_ROOTFS" "$NSPAWN_DIRECTORY"
scenario_boot "$name"
cleanup() { scenario_cleanup; rm -rf "$NSPAWN_DIRECTORY"; }
trap cleanup EXIT

inside sh -c 'useradd -m -s /bin/bash alice && echo alice:correct-horse | chpasswd'
ssh-keygen -q -t ed25519 -N "" -f "$work/key"
inside sh -c 'mkdir -p /home/alice/.ssh && cp /mnt/share/key.pub /home/alice/.ssh/authorized_keys &&
    chown -R alice /home/alice/.ssh && chmod 700 /home/alice/.ssh'
inside systemctl enable -q ssh
ssh_alice() {
    nsenter -t "$P" -n ssh -i "$work/key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o BatchMode=yes -o ConnectTimeout=5 alice@127.0.0.1 "$@"
}

start_collector
devices_port=$(awk '/^listening devices/ {print $3}' "$work/collector.log" | sed 's/.*://')
enroll_device
install_agent_unit "--interval 60s --enforce enforce"
inside systemctl enable -q postured
inside systemctl start postured
for _ in $(seq 300); do inside journalctl -u postured -o cat --no-pager | grep -q -- '-> compliant' && break; sleep 0.1; done
result ssh_before "$(ssh_alice echo in 2>/dev/null </dev/null)"

operator quarantine "laptop stolen"
for _ in $(seq 300); do inside test -e /run/nologin && break; sleep 0.05; done
result nologin_quarantined "$(inside test -e /run/nologin && echo present || echo absent)"
boot_before=$(inside cat /proc/sys/kernel/random/boot_id)

# Reboot, with the collector gone with the old network namespace.
pkill -f "state-dir $work/collector"
nspawn_stop
nspawn_boot "$name" "${SCENARIO_BINDS[@]}" || { result reboot failed; exit 1; }
trap cleanup EXIT  # nspawn_boot set its own
result reboot "$NSPAWN_STATE"
[ "$(inside cat /proc/sys/kernel/random/boot_id)" != "$boot_before" ] && result boot_id new || result boot_id same
for _ in $(seq 100); do inside systemctl is-active -q ssh && break; sleep 0.1; done
result nologin_after_reboot "$(inside test -e /run/nologin && echo present || echo absent)"
refused=$(ssh_alice true 2>&1 </dev/null); status=$?
result ssh_after_reboot_status "$status"
echo "$refused" | grep -q 'Logins are blocked by Posture' && result ssh_after_reboot_message nologin ||
    result ssh_after_reboot_message none
# Order at boot: the agent's re-establishment before sshd listened.
journal=$(inside journalctl -b -o short-monotonic --no-pager)
agent_at=$(echo "$journal" | grep -m1 'access stays taken away' | sed 's/^\[ *\([0-9.]*\)\].*/\1/')
sshd_at=$(echo "$journal" | grep -m1 'Server listening on' | sed 's/^\[ *\([0-9.]*\)\].*/\1/')
result order "$(awk -v a="${agent_at:-}" -v s="${sshd_at:-}" 'BEGIN { if (a == "" || s == "") print "unknown"; else if (a + 0 <= s + 0) print "agent-first"; else print "sshd-first" }')"
result status "$(inside "$bin/postured" status --state-dir /var/lib/posture | awk '/^enforcing/ {print $2}')"

# The collector back on the same port, the device released: logins open again.
start_collector "$devices_port"
operator release found
for _ in $(seq 600); do inside test -e /run/nologin || break; sleep 0.1; done
result nologin_after_release "$(inside test -e /run/nologin && echo present || echo absent)"
result ssh_after_release "$(ssh_alice echo back 2>/dev/null </dev/null)"
