#!/usr/bin/env bash
# Sessions and screen lock from a real logind: boots Debian 12 in systemd-nspawn, opens sessions through
# PAM (a Wayland one on a desktop that keeps logind's LockedHint, a Wayland one on a desktop that does
# not, a terminal login), sets idle and lock hints through logind's own SetIdleHint and SetLockedHint as a
# desktop does, and writes `postured probe --format json` at each step into the share, with policy-test
# cases for `posture-collector policy test` (Tests/EndToEndTests/SessionTests.swift reads both).
# Usage (root): sessions-e2e.sh BUILD_DIR WORK_DIR [ROOTFS]   (the tree: lib.sh, cached)
set -u
bin=$1; work=$2
[ -n "${3:-}" ] && NSPAWN_ROOTFS=$3
name=posture-sessions-$$
mkdir -p "$work"
source "$(dirname "$0")/lib.sh"

scenario_boot "$name"

inside sh -c 'useradd -m alice && useradd -m dave && useradd -m carol'
# A desktop's session as its display manager opens it: PAM with the session's type and desktop.
desktop() {
    inside systemd-run -q -p PAMName=login -p User="$1" -E XDG_SESSION_TYPE=wayland -E XDG_SESSION_CLASS=user \
        -E XDG_SESSION_DESKTOP="$2" --unit="$1-desktop" sleep infinity
}
desktop alice GNOME
desktop dave sway
inside systemd-run -q --unit=carol-console sh -c "sleep infinity | script -qfc 'login -f carol' /dev/null"
# erin: a remote login over ssh, from the container's own loopback.
inside useradd -m erin
ssh-keygen -q -t ed25519 -N "" -f "$work/key"
inside sh -c 'mkdir -p /home/erin/.ssh && cp /mnt/share/key.pub /home/erin/.ssh/authorized_keys &&
    chown -R erin /home/erin/.ssh && chmod 700 /home/erin/.ssh'
nsenter -t "$P" -n ssh -i "$work/key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
    erin@127.0.0.1 sleep 120 >"$work/ssh.log" 2>&1 </dev/null &
session_of() { inside loginctl list-sessions --no-legend | awk -v u="$1" '$3 == u {print $1; exit}'; }
for _ in $(seq 300); do
    [ -n "$(session_of alice)" ] && [ -n "$(session_of dave)" ] && [ -n "$(session_of carol)" ] &&
        [ -n "$(session_of erin)" ] && break
    sleep 0.1
done
alice=$(session_of alice); dave=$(session_of dave); carol=$(session_of carol); erin=$(session_of erin)
result sessions "alice=$alice dave=$dave carol=$carol erin=$erin"
for s in "$alice" "$dave" "$carol" "$erin"; do
    result "logind_$s" "$(inside loginctl show-session "$s" -p Type -p Class -p Desktop -p Remote --value | tr '\n' ' ')"
done

# hint SESSION USER METHOD VALUE: what the desktop calls on its own session, as its user.
hint() {
    inside runuser -u "$2" -- busctl call org.freedesktop.login1 "/org/freedesktop/login1/session/_3$1" \
        org.freedesktop.login1.Session "$3" b "$4"
}
probe() { inside "$bin/postured" probe --format json >"$work/$1.json" 2>"$work/$1.err"; result "probe_$1" $?; }

probe active
hint "$alice" alice SetIdleHint true; result idle_alice $?
hint "$dave" dave SetIdleHint true; result idle_dave $?
sleep 2.2
probe idle
inside "$bin/postured" probe >"$work/idle.txt"
hint "$alice" alice SetLockedHint true; result lock_alice $?
hint "$dave" dave SetLockedHint true; result lock_dave $?
probe locked
hint "$alice" alice SetLockedHint false
hint "$alice" alice SetIdleHint false
probe back
# dave's locker quits without a word to logind: idle, and the hint false again on a desktop that does not
# keep it.
hint "$dave" dave SetLockedHint false
probe unknown

# The same reports through the operator's policy test (posture-collector policy test --cases DIR). dave's
# desktop reports neither lock nor idleness unless told: under the default rule that alone fails.
mkdir -p "$work/cases" "$work/cases-lenient"
printf 'report: {maxAge: 1h}\nrules:\n  - {name: screen-locked, check: screenLock, maxIdle: 1s}\n' >"$work/screen-lock.yaml"
case_file() {
    printf 'report: ../%s.json\nexpect:\n  status: %s\n  failing: [%s]\n' "$2" "$3" "$4" >"$work/$1/$2.yaml"
}
case_file cases active noncompliant screen-locked
case_file cases idle noncompliant screen-locked
case_file cases locked compliant ""
case_file cases back compliant ""
case_file cases unknown noncompliant screen-locked
case_file cases-lenient active compliant ""
case_file cases-lenient idle noncompliant screen-locked
case_file cases-lenient locked compliant ""
case_file cases-lenient back compliant ""
case_file cases-lenient unknown compliant ""
"$bin/posture-collector" policy test "$work/screen-lock.yaml" --cases "$work/cases" >"$work/policy-test.log" 2>&1
result policy_test $?
cat "$work/policy-test.log"
# With unknownLock: pass, the session whose lock cannot be known does not fail the rule; alice's does.
printf 'report: {maxAge: 1h}\nrules:\n  - {name: screen-locked, check: screenLock, maxIdle: 1s, unknownLock: pass}\n' \
    >"$work/screen-lock-lenient.yaml"
"$bin/posture-collector" policy test "$work/screen-lock-lenient.yaml" --cases "$work/cases-lenient" \
    >"$work/policy-test-lenient.log" 2>&1
result policy_test_lenient $?
cat "$work/policy-test-lenient.log"
# What the operator reads for the idle and the active reports.
for step in idle active; do
    "$bin/posture-collector" policy test "$work/screen-lock.yaml" --report "$work/$step.json" >"$work/$step-verdict.log" 2>&1
    cat "$work/$step-verdict.log"
done
