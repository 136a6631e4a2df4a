#!/usr/bin/env bash
# The packages on a real systemd: boots a clean Debian 12 in systemd-nspawn and, with apt-get, installs
# posture-collector and posture-agent from their .debs, enrolls the agent unattended (enrollment.conf),
# sees its signed attestations stored, quarantines the device and sees a session end and logins blocked
# (the packaged unit, enforcing), releases it; grants time-bound sudo through the packaged unit and stock
# sudo; upgrades both to rebuilt packages (a conffile edit kept, services restarted, the grant kept),
# removes them (conffiles and state kept, no sudo grant left) and purges them (all gone).
# Every check prints `ok` or `FAILED`; the exit code is the number of failures. Logs stay in WORK_DIR.
# Usage (root): package-e2e.sh DEB_DIR WORK_DIR
#   DEB_DIR holds posture-{agent,collector}_<version>_amd64.deb and the rebuilt _<version>+e2e1_ pair
#   (packaging/deb/build-debs.sh DEB_DIR; packaging/deb/build-debs.sh DEB_DIR --rebuild +e2e1).
set -u
debs=$(cd "$1" && pwd); work=$2
mkdir -p "$work"
work=$(cd "$work" && pwd)
source "$(dirname "$0")/lib.sh"
version=$(dpkg-parsechangelog -l "$(dirname "$0")/../../debian/changelog" -S Version)
failures=0
check() { # name actual expected
    if [ "$2" = "$3" ]; then echo "ok      $1: $2"; else echo "FAILED  $1: got '$2', want '$3'"; failures=$((failures + 1)); fi
}
check_match() { # name actual regex
    if [[ "$2" =~ $3 ]]; then echo "ok      $1: $2"; else echo "FAILED  $1: got '$2', want /$3/"; failures=$((failures + 1)); fi
}
wait_for() { # seconds command...: polls until the command succeeds
    local limit=$1
    shift
    for _ in $(seq $((limit * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}
step() { echo "== $*"; }

cp "$debs"/posture-{agent,collector}_"$version"{,+e2e1}_amd64.deb "$work/" || { echo "missing .debs in $debs"; exit 1; }
step "root filesystem ($NSPAWN_ROOTFS) and boot"
nspawn_rootfs || { echo "FAILED  rootfs"; exit 1; }
nspawn_boot "posture-pkg-$$" || { echo "FAILED  boot"; exit 1; }
check_match boot "$NSPAWN_STATE" '^(running|degraded)$'
apt() { inside env DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Options::=--force-confold -y -q "$@"; }
show() { inside systemctl show -p "$2" --value "$1"; }

step "install posture-collector_$version"
apt install "/mnt/share/posture-collector_${version}_amd64.deb" >"$work/install-collector.log" 2>&1
check "collector installed" "$(inside dpkg-query -W -f='${Status}' posture-collector)" "install ok installed"
wait_for 30 inside systemctl is-active -q posture-collector
check "collector unit" "$(show posture-collector ActiveState)/$(show posture-collector SubState)" "active/running"
check "collector Type" "$(show posture-collector Type)" "notify"
check "collector runs as" "$(inside ps -o user= -p "$(show posture-collector MainPID)")" "posture-collector"
check "collector state directory" "$(inside stat -c '%U %a' /var/lib/posture-collector)" "posture-collector 700"
check "CA key" "$(inside stat -c '%U %a' /var/lib/posture-collector/ca.key)" "posture-collector 600"
check_match "collector status line" "$(show posture-collector StatusText)" '^listening: '
# A policy this container meets (its root is an overlay, so the shipped policy's disk rules can only say
# unknown), installed as an operator would: the conffile edited, then `systemctl reload` (SIGHUP).
printf 'report: {maxAge: 1h}\nrules:\n  - {name: sshd-ok, check: sshd, permitEmptyPasswords: false}\n' >"$work/policy.yaml"
printf 'access:\n  grants:\n    - {name: sudo-id, users: [alice], sudo: {commands: [/usr/bin/id]}, maxDuration: 1h}\n' >>"$work/policy.yaml"
printf '    - {name: ssh-e2e, users: [alice], ssh: {principals: ["${user}"]}, maxDuration: 15m}\n' >>"$work/policy.yaml"
inside sh -c 'cat /mnt/share/policy.yaml > /etc/posture/policy.yaml'
inside systemctl reload posture-collector

step "install posture-agent_$version (not enrolled yet: it waits)"
apt install "/mnt/share/posture-agent_${version}_amd64.deb" >"$work/install-agent.log" 2>&1
check "agent installed" "$(inside dpkg-query -W -f='${Status}' posture-agent)" "install ok installed"
wait_for 30 inside systemctl is-active -q postured
sleep 3
check "agent waits, running" "$(show postured ActiveState)/$(show postured SubState)" "active/running"
check_match "agent status line" "$(show postured StatusText)" '^not enrolled: waiting'
check "agent restarts while waiting" "$(show postured NRestarts)" "0"
check "posturectl (alternative)" "$(inside readlink -f /usr/bin/posturectl)" "/usr/bin/postured"
check "posturectl version" "$(inside posturectl version)" "$version"
check "enrollment.conf" "$(inside stat -c '%U %a' /etc/posture/enrollment.conf)" "root 600"

step "enroll unattended through /etc/posture/enrollment.conf"
token=$(inside posture-collector token create --label site=e2e)
pin=$(inside posture-collector ca fingerprint)
printf 'collector = https://127.0.0.1:8443\nca-fingerprint = %s\ntoken = %s\n' "$pin" "$token" >"$work/enrollment.conf"
inside sh -c 'cat /mnt/share/enrollment.conf > /etc/posture/enrollment.conf'
wait_for 40 sh -c "nsenter -t $P -a posturectl status | grep -q '^device '"
device=$(inside posturectl status | awk '/^device / {print $2}' | sed 's|.*/device/||')
check_match "enrolled device" "$device" '^[0-9a-f-]{36}$'
check_match "agent status line" "$(show postured StatusText)" '^reporting as spiffe://'
reports() { inside posture-collector devices show "$device" --format table | awk '/^reports / {print $2}'; }
wait_for 40 sh -c "[ \"\$(nsenter -t $P -a posture-collector devices show $device --format table | awk '/^reports / {print \$2}')\" -ge 1 ]"
check_match "collector stored attestations" "$(reports)" '^[1-9][0-9]*$'
check "device key" "$(inside stat -c '%U %a' /var/lib/posture/device.key)" "root 600"

step "a refusal in the journal: at warning priority, with its MESSAGE_ID, explained by journalctl -x"
# token_invalid (PROTOCOL.md) is MESSAGE_ID 9b5f9a2ad86c400bb7755c5be67521b5 (packaging/systemd/posture.catalog).
inside postured enroll --collector https://127.0.0.1:8443 --token not-a-token --ca-fingerprint "$pin" \
    --state-dir /tmp/bogus-enrollment >"$work/bogus-enroll.log" 2>&1
check "bogus enrollment refused" "$(grep -c token_invalid "$work/bogus-enroll.log")" "1"
refusal_id=9b5f9a2ad86c400bb7755c5be67521b5
wait_for 10 sh -c "nsenter -t $P -a journalctl -u posture-collector -p warning -o cat MESSAGE_ID=$refusal_id | grep -q ."
inside journalctl -u posture-collector -p warning --no-pager -o short >"$work/journal-warnings.log" 2>&1
check "journalctl -p warning shows the refusal" "$(inside journalctl -u posture-collector -p warning -o cat MESSAGE_ID=$refusal_id | grep -c 'refused:')" "1"
check "its fields" "$(inside journalctl -u posture-collector -o json MESSAGE_ID=$refusal_id | grep -o '"POSTURE_CODE":"token_invalid"' | head -1)" '"POSTURE_CODE":"token_invalid"'
check "journalctl -x explains it" "$(inside journalctl -x -u posture-collector MESSAGE_ID=$refusal_id --no-pager | grep -c 'enrollment token is unknown')" "1"
check "lifecycle events catalogued" "$(inside journalctl -u posture-collector -o cat MESSAGE_ID=c48451d694474e838c7ba49ce7f8c255 | grep -c 'verdicts ready')" "1"

step "enforcement from the packaged unit: /etc/default/postured edited to --enforce enforce"
inside sed -i 's/^POSTURED_OPTIONS=.*/POSTURED_OPTIONS="--enforce enforce --interval 10s"/' /etc/default/postured
inside systemctl restart postured
wait_for 30 inside systemctl is-active -q postured
inside useradd -m -s /bin/bash alice
inside systemd-run -q -p PAMName=login -p User=alice --unit=alice-login sleep infinity
wait_for 20 sh -c "nsenter -t $P -a loginctl list-sessions --no-legend | grep -q alice"
check_match "alice has a session" "$(inside loginctl list-sessions --no-legend | awk '{print $3}' | tr '\n' ' ')" 'alice'
wait_for 30 sh -c "nsenter -t $P -a posturectl status | grep -q '^verdict  *compliant'"
check "verdict before quarantine" "$(inside posturectl status | awk '/^verdict / {print $2}')" "compliant"
inside posture-collector devices quarantine "$device" --reason "e2e: lost laptop" --by e2e >/dev/null
wait_for 30 sh -c "! nsenter -t $P -a loginctl list-sessions --no-legend | grep -q alice"
check "alice's session after quarantine" "$(inside loginctl list-sessions --no-legend | grep -c alice)" "0"
check "logins blocked" "$(inside test -e /run/nologin && echo yes || echo no)" "yes"
inside posture-collector devices release "$device" --reason "e2e: found" --by e2e >/dev/null
wait_for 30 sh -c "! nsenter -t $P -a test -e /run/nologin"
check "logins after release" "$(inside test -e /run/nologin && echo blocked || echo open)" "open"

step "time-bound sudo through the packaged agent (access.sudoersDirectory: /etc/sudoers.d) and stock sudo"
wait_for 30 sh -c "nsenter -t $P -a posturectl status | grep -q '^verdict  *compliant'"
sudo_id() { inside runuser -u alice -- sudo -n /usr/bin/id -u 2>/dev/null || echo refused; }
grants() { inside sh -c 'ls /etc/sudoers.d | grep -c "^posture-grant-"'; }
check "alice's sudo before a grant" "$(sudo_id)" "refused"
inside runuser -u alice -- posturectl access request --grant sudo-id --for 1h --reason "e2e: deploy" >"$work/sudo-request.log" 2>&1
check_match "granted" "$(cat "$work/sudo-request.log")" '^sudo [0-9]+ for alice'
check "drop-in installed" "$(grants)" "1"
check "drop-in mode" "$(inside sh -c 'stat -c "%U %a" /etc/sudoers.d/posture-grant-*')" "root 440"
check "alice's sudo during the grant" "$(sudo_id)" "0"
check "sudo for another command" "$(inside runuser -u alice -- sudo -n /usr/bin/whoami 2>/dev/null || echo refused)" "refused"
inside posture-collector devices quarantine "$device" --reason "e2e: sudo" --by e2e >/dev/null
wait_for 30 sh -c "[ \"\$(nsenter -t $P -a sh -c 'ls /etc/sudoers.d | grep -c ^posture-grant-')\" = 0 ]"
check "drop-in gone once non-compliant" "$(grants)" "0"
check "alice's sudo once non-compliant" "$(sudo_id)" "refused"
inside posture-collector devices release "$device" --reason "e2e: sudo" --by e2e >/dev/null
wait_for 30 sh -c "nsenter -t $P -a posturectl status | grep -q '^verdict  *compliant'"
# Past its deadline while the agent is stopped: sudo refuses it (NOTAFTER); the agent removes it on start.
inside runuser -u alice -- posturectl access request --grant sudo-id --for 4s --reason "e2e: short" >/dev/null 2>&1
check "short grant installed" "$(grants)" "1"
inside systemctl stop postured
sleep 5
check "drop-in still there, agent stopped" "$(grants)" "1"
check "alice's sudo past the deadline" "$(sudo_id)" "refused"
inside systemctl start postured
wait_for 30 sh -c "[ \"\$(nsenter -t $P -a sh -c 'ls /etc/sudoers.d | grep -c ^posture-grant-')\" = 0 ]"
check "drop-in removed on start" "$(grants)" "0"
wait_for 30 sh -c "nsenter -t $P -a posturectl status | grep -q '^verdict  *compliant'"
inside runuser -u alice -- posturectl access request --grant sudo-id --for 1h --reason "e2e: long" >/dev/null 2>&1
check "alice's sudo under a new grant" "$(sudo_id)" "0"

step "this host as an SSH target: the packaged sshd drop-in, enabled by the operator"
inside sed -i 's|^  # revokedKeysFile: .*|  revokedKeysFile: /var/lib/posture/revoked-keys.krl|' /etc/posture/agent.yaml
inside systemctl restart postured
wait_for 30 inside test -s /var/lib/posture/revoked-keys.krl
wait_for 30 inside test -s /var/lib/posture/ssh-user-ca.pub
check "CA key is the collector's" "$(inside cut -d' ' -f2 /var/lib/posture/ssh-user-ca.pub)" "$(inside posture-collector ssh ca | cut -d' ' -f2)"
inside ln -s /usr/share/posture-agent/sshd/posture.conf /etc/ssh/sshd_config.d/posture.conf
inside systemctl reload ssh
inside usermod -p '*' alice
as_alice() { inside runuser -u alice -- env HOME=/home/alice "$@"; }
as_alice sh -c 'mkdir -p -m 700 ~/.ssh && ssh-keygen -q -t ed25519 -N "" -f ~/.ssh/id_ed25519'
as_alice posturectl ssh certificate --grant ssh-e2e >"$work/ssh-certificate.log" 2>&1
check_match "certificate" "$(cat "$work/ssh-certificate.log")" 'id_ed25519-cert.pub: serial [0-9]+, principals alice'
ssh_alice() {
    as_alice ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
        alice@127.0.0.1 id -un 2>/dev/null || echo refused
}
check "alice logs in with the certificate" "$(ssh_alice)" "alice"

step "resources and sandbox scores"
for unit in postured posture-collector; do
    pid=$(show $unit MainPID)
    echo "   $unit: RSS $(inside ps -o rss= -p "$pid" | tr -d ' ') KiB, CPU $(inside ps -o cputime= -p "$pid" | tr -d ' ') since start; MemoryMax $(show $unit MemoryMax), CPUQuotaPerSecUSec $(show $unit CPUQuotaPerSecUSec)"
    inside systemd-analyze security --no-pager "$unit" >"$work/security-$unit.txt" 2>&1
    echo "   $unit: $(grep -o 'Overall exposure level.*' "$work/security-$unit.txt")"
done

step "watchdog: the collector has run past WatchdogSec and was never restarted"
since=$(show posture-collector ActiveEnterTimestampMonotonic)
now=$(inside cat /proc/uptime | awk '{printf "%.0f", $1 * 1000000}')
ran=$(((now - since) / 1000000))
[ "$ran" -ge 0 ] && [ "$ran" -lt 35 ] && sleep $((35 - ran)) && ran=35
check "collector WatchdogUSec" "$(show posture-collector WatchdogUSec)" "30s"
check "collector restarts after ${ran}s" "$(show posture-collector NRestarts)" "0"
check "agent WatchdogUSec" "$(show postured WatchdogUSec)" "1min"

step "upgrade both to $version+e2e1 (conffile edit kept, services restarted)"
agent_pid=$(show postured MainPID); collector_pid=$(show posture-collector MainPID)
apt install "/mnt/share/posture-agent_${version}+e2e1_amd64.deb" "/mnt/share/posture-collector_${version}+e2e1_amd64.deb" \
    >"$work/upgrade.log" 2>&1
check "agent version" "$(inside dpkg-query -W -f='${Version}' posture-agent)" "$version+e2e1"
check "collector version" "$(inside dpkg-query -W -f='${Version}' posture-collector)" "$version+e2e1"
check "conffile edit kept (agent)" "$(inside grep -c -- '--enforce enforce' /etc/default/postured)" "1"
check "conffile edit kept (collector)" "$(inside grep -c 'sshd-ok' /etc/posture/policy.yaml)" "1"
wait_for 30 inside systemctl is-active -q postured
wait_for 30 inside systemctl is-active -q posture-collector
check "agent restarted" "$([ "$(show postured MainPID)" != "$agent_pid" ] && echo yes || echo no)" "yes"
check "collector restarted" "$([ "$(show posture-collector MainPID)" != "$collector_pid" ] && echo yes || echo no)" "yes"
check "still enrolled" "$(inside posturectl status | awk '/^device / {print $2}' | sed 's|.*/device/||')" "$device"
check "sudo grant kept across the upgrade" "$(sudo_id)" "0"

step "remove (conffiles and state stay)"
apt remove posture-agent posture-collector >"$work/remove.log" 2>&1
check "agent package" "$(inside dpkg-query -W -f='${db:Status-Abbrev}' posture-agent | tr -d ' ')" "rc"
check "collector package" "$(inside dpkg-query -W -f='${db:Status-Abbrev}' posture-collector | tr -d ' ')" "rc"
check "binaries gone" "$(inside sh -c 'ls /usr/bin/postured /usr/bin/posture-collector /usr/bin/posturectl 2>/dev/null | wc -l')" "0"
check "conffiles kept" "$(inside sh -c 'ls /etc/posture/collector.yaml /etc/posture/policy.yaml /etc/posture/enrollment.conf /etc/default/postured | wc -l')" "4"
check "state kept" "$(inside sh -c 'ls -d /var/lib/posture/device.key /var/lib/posture-collector/ca.key | wc -l')" "2"
check "no nologin left behind" "$(inside test -e /run/nologin && echo present || echo absent)" "absent"
check "no sudo grant left behind" "$(grants)" "0"
check "sshd drop-in link taken out" "$(inside test -e /etc/ssh/sshd_config.d/posture.conf && echo present || echo absent)" "absent"
check "sshd still active" "$(inside systemctl is-active ssh)" "active"
check "alice's sudo after removal" "$(sudo_id)" "refused"

step "purge (all gone but the system user)"
apt purge posture-agent posture-collector >"$work/purge.log" 2>&1
check "packages" "$(inside sh -c 'dpkg-query -W posture-agent posture-collector 2>/dev/null | wc -l')" "0"
check "/etc/posture" "$(inside sh -c 'ls -A /etc/posture 2>/dev/null | wc -l')" "0"
check "/etc/default/postured" "$(inside test -e /etc/default/postured && echo present || echo gone)" "gone"
check "state" "$(inside sh -c 'ls -d /var/lib/posture /var/lib/posture-collector 2>/dev/null | wc -l')" "0"
check "posturectl alternative" "$(inside sh -c 'update-alternatives --query posturectl >/dev/null 2>&1 && echo present || echo gone')" "gone"
check "system user kept" "$(inside sh -c 'getent passwd posture-collector >/dev/null && echo kept || echo gone')" "kept"

inside journalctl --no-pager -o short-monotonic >"$work/journal.log" 2>&1
if [ "$failures" -ne 0 ]; then
    echo "-- the container's journal, last 60 lines (all of it, and apt's logs, in $work):"
    tail -n 60 "$work/journal.log"
fi
echo "$failures failure(s); logs in $work"
exit "$failures"
