#!/usr/bin/env bash
# Cost of the sessions probe against a real logind: postured probe in a Debian 12 nspawn container with 3
# sessions (2 Wayland, a console login), 50 runs with the system bus reachable and 50 with it pointed
# nowhere (the probe then fails at once), three rounds; the difference is the probe's share.
# Usage (root): sessions-probe-cost.sh RELEASE_BUILD_DIR WORK_DIR   (the nspawn tree: testbed/nspawn/lib.sh)
set -u
bin=$1; work=$2
mkdir -p "$work"
name=posture-measure-$$
source "$(dirname "$0")/../testbed/nspawn/lib.sh"
scenario_boot "$name"
inside sh -c 'useradd -m alice && useradd -m dave && useradd -m carol'
for u in alice dave; do
    inside systemd-run -q -p PAMName=login -p User=$u -E XDG_SESSION_TYPE=wayland -E XDG_SESSION_CLASS=user \
        -E XDG_SESSION_DESKTOP=GNOME --unit=$u-desktop sleep infinity
done
inside systemd-run -q --unit=carol-console sh -c "sleep infinity | script -qfc 'login -f carol' /dev/null"
sleep 1
inside loginctl list-sessions --no-legend | wc -l

cat >"$work/loop.sh" <<'IN'
#!/bin/bash
# Wall, user and system seconds of N runs of a command.
n=$1; shift
TIMEFORMAT="%R %U %S"
time (for i in $(seq "$n"); do "$@" >/dev/null 2>&1; done)
IN
chmod +x "$work/loop.sh"
for round in 1 2 3; do
    echo "with logind:"; inside /mnt/share/loop.sh 50 "$bin/postured" probe --format json
    echo "bus pointed nowhere:"; inside env DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent /mnt/share/loop.sh 50 "$bin/postured" probe --format json
done
inside "$bin/postured" probe | sed -n '/^Sessions/,$p'
