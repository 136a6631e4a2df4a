#!/usr/bin/env bash
# Enforcement as a bad day on an endpoint goes, on a real systemd (Debian 12 in systemd-nspawn): the agent,
# running as the shipped unit, is killed with SIGKILL at each step of a quarantine and of a release (before
# and after writing the nologin file, ending a session, locking an account, and their undoing), restarted by
# systemd, and must converge to exactly what the verdict asks; bob, exempt only through the 100th of his 100
# groups, keeps his session throughout. Prints `RESULT key=value` lines for
# Tests/EndToEndTests/EnforcementTests.swift.
# Usage (root): enforcement-faults-e2e.sh BUILD_DIR WORK_DIR [ROOTFS]
set -u
bin=$1; work=$2
[ -n "${3:-}" ] && NSPAWN_ROOTFS=$3
name=posture-faults-$$
mkdir -p "$work"
source "$(dirname "$0")/lib.sh"

scenario_boot "$name"

inside sh -c 'useradd -m -s /bin/bash alice && useradd -m -s /bin/bash bob'
inside sh -c "printf 'alice:correct-horse\nbob:battery-staple\n' | chpasswd"
# bob is in 100 groups; only the last one exempts him (LDAP and AD users are often in more than 64).
inside sh -c 'for i in $(seq -w 1 100); do groupadd "team$i"; done;
    usermod -aG "$(seq -w 1 100 | sed "s/^/team/" | paste -sd, -)" bob'
result bob_groups "$(inside id -G bob | wc -w)"

start_collector
enroll_device
# RestartSec=3s: after a kill, the test clears the kill point before systemd starts the agent again.
install_agent_unit "--interval 60s --enforce enforce --exempt-group team100 --disable-accounts" \
    'ReadWritePaths=/etc\nCapabilityBoundingSet=CAP_CHOWN CAP_FOWNER\nRestartSec=3s\n'
inside systemctl start postured

sessions() { inside loginctl list-sessions --no-legend | awk '{print $3}' | sort | tr '\n' ' '; }
kills() { inside journalctl -u postured -o cat --no-pager | grep -c 'status=9/KILL'; }
# What is in place: nologin (ours / none / other), alice's password (P or L), the users with sessions.
observed() {
    local nologin=none
    if inside test -e /run/nologin; then
        inside grep -q 'Logins are blocked by Posture' /run/nologin && nologin=ours || nologin=other
    fi
    echo "nologin=$nologin alice=$(inside passwd -S alice | awk '{print $2}') sessions=$(sessions | tr ' ' ',')"
}
quarantined='nologin=ours alice=L sessions=bob,'
released_with_bob='nologin=none alice=P sessions=bob,'
# Waits (up to 30 s) for the observed state to be $1; prints what it ended as.
converge() {
    local seen
    for _ in $(seq 150); do seen=$(observed); [ "$seen" = "$1" ] && break; sleep 0.2; done
    echo "$seen"
}
login() {  # a fresh logind session for $1
    inside systemctl stop "$1-login-$2" >/dev/null 2>&1
    inside systemd-run -q -p PAMName=login -p User="$1" --unit="$1-login-$2" sleep infinity
    for _ in $(seq 100); do sessions | grep -q "$1" && break; sleep 0.1; done
}
# Sets (or with no argument clears) the kill point and restarts the agent with it.
kill_at() {
    if [ -n "${1:-}" ]; then
        printf '[Service]\nEnvironment=POSTURED_KILL_AT=%s\n' "$1" >"$work/kill.conf"
        inside cp /mnt/share/kill.conf /etc/systemd/system/postured.service.d/kill.conf
    else
        inside rm -f /etc/systemd/system/postured.service.d/kill.conf
    fi
    inside systemctl daemon-reload
}
# killed_during POINT ACTION REASON: restarts the agent with the kill point, has the operator act, waits for
# the kill and clears the point (systemd restarts the agent after RestartSec); prints killed=yes|no.
killed_during() {
    local before killed=no
    kill_at "$1"
    inside systemctl restart postured
    sleep 2
    before=$(kills)
    operator "$2" "$3"
    for _ in $(seq 150); do [ "$(kills)" -gt "$before" ] && killed=yes && break; sleep 0.2; done
    kill_at
    echo "killed=$killed"
}

login bob 0
for _ in $(seq 300); do inside journalctl -u postured -o cat --no-pager | grep -q -- '-> compliant' && break; sleep 0.1; done
result before "$(observed)"

# Killed at each step of a quarantine: once restarted, the agent finishes it exactly.
for point in block-logins logins-blocked terminate-session session-terminated lock-account account-locked; do
    login alice "$point"
    killed=$(killed_during "$point" quarantine "kill at $point")
    result "quarantine_${point}" "$killed $(converge "$quarantined")"
    operator release "done"
    result "release_after_${point}" "$(converge "$released_with_bob")"
done

# Killed at each step of a release: once restarted, it undoes exactly what was done, nothing left behind,
# and never puts the block back in between (the release was decided: the restart finishes it).
reblocks() { inside journalctl -u postured -o cat --no-pager | grep -c 'access stays taken away'; }
reblocked=0
for point in unblock-logins logins-unblocked unlock-account account-unlocked; do
    login alice "r$point"
    operator quarantine "before $point"
    converge "$quarantined" >/dev/null
    killed=$(killed_during "$point" release "kill at $point")
    blocks=$(reblocks)  # counted before systemd restarts the agent (RestartSec=3s)
    result "release_${point}" "$killed $(converge "$released_with_bob")"
    reblocked=$((reblocked + $(reblocks) - blocks))
done
result bob_session "$(sessions | grep -c bob)"
enforcing() { inside "$bin/postured" status --state-dir /var/lib/posture | awk '/^enforcing/ {print $2}'; }
for _ in $(seq 50); do [ "$(enforcing)" = no ] && break; sleep 0.2; done
result status "$(enforcing)"
result reblocked_during_release "$reblocked"
result nologin_files "$(inside ls /run | grep -c nologin)"
