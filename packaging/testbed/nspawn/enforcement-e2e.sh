#!/usr/bin/env bash
# Enforcement on a real systemd: boots Debian 12 in systemd-nspawn (real logind, PAM, sshd, journald),
# gives alice (not exempt) a logind session and a live SSH connection and bob (exempt) a session, runs
# the real collector in the container's network namespace and the real postured inside with --enforce,
# quarantines the device, checks what happened, releases it, checks again. Prints `RESULT key=value`
# lines for the test (Tests/EndToEndTests/EnforcementTests.swift) and a human.
# Usage (root): enforcement-e2e.sh BUILD_DIR WORK_DIR [ROOTFS]   (the tree: lib.sh, cached)
set -u
bin=$1; work=$2
[ -n "${3:-}" ] && NSPAWN_ROOTFS=$3
name=posture-e2e-$$
mkdir -p "$work"
source "$(dirname "$0")/lib.sh"

scenario_boot "$name"

inside sh -c 'useradd -m -s /bin/bash alice && useradd -m -s /bin/bash bob'
inside sh -c "printf 'alice:correct-horse\nbob:battery-staple\n' | chpasswd"
ssh-keygen -q -t ed25519 -N "" -f "$work/key"
inside sh -c 'mkdir -p /home/alice/.ssh && cp /mnt/share/key.pub /home/alice/.ssh/authorized_keys &&
    chown -R alice /home/alice/.ssh && chmod 700 /home/alice/.ssh'
inside systemd-run -q -p PAMName=login -p User=alice --unit=alice-login sleep infinity
inside systemd-run -q -p PAMName=login -p User=bob --unit=bob-login sleep infinity
# carol: a console login through login(1) and PAM, on a pseudo-terminal from script(1).
inside useradd -m carol
inside systemd-run -q --unit=carol-console sh -c "sleep infinity | script -qfc 'login -f carol' /dev/null"
ssh=(nsenter -t "$P" -n ssh -i "$work/key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o BatchMode=yes alice@127.0.0.1)
"${ssh[@]}" sleep 600 >"$work/ssh-live.log" 2>&1 </dev/null &
live=$!
sessions() { inside loginctl list-sessions --no-legend | awk '{print $3}' | sort | tr '\n' ' '; }
for _ in $(seq 300); do [ "$(sessions | grep -o 'alice\|carol' | wc -l)" -ge 3 ] && break; sleep 0.1; done
result sessions_before "$(sessions)"

start_collector
enroll_device
# The agent runs as the shipped unit, with /etc writable for --disable-accounts.
install_agent_unit "--interval 60s --enforce enforce --exempt-user bob --disable-accounts" \
    'ReadWritePaths=/etc\nCapabilityBoundingSet=CAP_CHOWN CAP_FOWNER\n'
inside systemctl start postured
agentlog() { inside journalctl -u postured -o cat --no-pager; }
for _ in $(seq 300); do agentlog | grep -q -- '-> compliant' && break; sleep 0.1; done
result verdict_before "$(agentlog | grep -o -- '-> [a-z]*' | tail -1 | cut -c4-)"
result unit_user "$(inside systemctl show -p User --value postured)"
result unit_capabilities "$(inside systemctl show -p CapabilityBoundingSet --value postured)"
sleep 1

start=$(date +%s.%N)
operator quarantine "laptop stolen"
for _ in $(seq 300); do sessions | grep -q 'alice\|carol' || break; sleep 0.02; done
end=$(date +%s.%N)
result seconds_to_sessions_ended "$(awk "BEGIN {printf \"%.3f\", $end - $start}")"
result sessions_after "$(sessions)"
sleep 0.5
kill -0 "$live" 2>/dev/null && result ssh_live connected || result ssh_live disconnected
refused=$("${ssh[@]}" true 2>&1 </dev/null); status=$?
result ssh_new_status "$status"
result alice_password_quarantined "$(inside passwd -S alice | awk '{print $2}')"
result bob_password_quarantined "$(inside passwd -S bob | awk '{print $2}')"
echo "$refused" | grep -q 'Logins are blocked by Posture' && result ssh_new_message nologin || result ssh_new_message none
result journal_terminated "$(inside journalctl -o cat MESSAGE_ID=ce946f3342204819b3e968468a912e2e | grep -c 'ended session')"
result journal_users "$(inside journalctl -o json MESSAGE_ID=ce946f3342204819b3e968468a912e2e | grep -o '"POSTURE_USER":"[a-z]*"' | sort -u | tr '\n' ' ')"

operator release found
for _ in $(seq 300); do inside test -e /run/nologin || break; sleep 0.05; done
inside test -e /run/nologin && result nologin_after_release present || result nologin_after_release gone
result ssh_after_release "$("${ssh[@]}" echo back 2>/dev/null </dev/null)"
result alice_password_released "$(inside passwd -S alice | awk '{print $2}')"
result journal_restored "$(inside journalctl -o cat MESSAGE_ID=a1fa4bbd06064b05912eb732a9a97dbb | grep -c 'access restored')"
inside journalctl -u postured -o cat --no-pager | grep -i "account\|usermod" | head -5
result status "$(inside "$bin/postured" status --state-dir /var/lib/posture | awk '/^enforcing/ {print $2}')"
