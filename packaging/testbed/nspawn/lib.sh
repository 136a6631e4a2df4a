# Shared by the nspawn scenarios: a cached Debian 12 root filesystem, booting it with systemd-nspawn,
# running commands inside, and stopping it. Source it; set `work` (the share directory) first.
# See ../../../../shared/TESTBED.md for why each flag is there.

# The container's own system bus, whatever the caller's environment points at.
unset DBUS_SYSTEM_BUS_ADDRESS

# What the tree holds: systemd, logind (PAM), sshd, sudo, nftables, and what the packages depend on (adduser,
# libsqlite3-0), so `apt-get install ./posture-*.deb` works with no network in the container.
NSPAWN_PACKAGES=systemd,systemd-sysv,dbus,libpam-systemd,iproute2,nftables,iptables,openssh-server,util-linux
NSPAWN_PACKAGES+=,procps,ca-certificates,bsdutils,adduser,libsqlite3-0,sudo
NSPAWN_ROOTFS=${NSPAWN_ROOTFS:-${POSTURE_TESTBED_CACHE:-/var/cache/posture-testbed}/bookworm-nspawn}

# Builds the tree when absent or built from another package list. Twice at most: a mirror hiccup should
# not fail the suite. A stale half-built tree is removed first.
nspawn_rootfs() {
    local stamp=$NSPAWN_ROOTFS.packages
    if [ -d "$NSPAWN_ROOTFS" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$NSPAWN_PACKAGES" ]; then return 0; fi
    mkdir -p "$(dirname "$NSPAWN_ROOTFS")"
    rm -rf "$NSPAWN_ROOTFS"
    for attempt in 1 2; do
        rm -rf "$NSPAWN_ROOTFS.tmp"
        timeout 900 mmdebstrap --variant=minbase --include="$NSPAWN_PACKAGES" bookworm "$NSPAWN_ROOTFS.tmp" \
            >"$work/mmdebstrap.log" 2>&1 </dev/null && mv "$NSPAWN_ROOTFS.tmp" "$NSPAWN_ROOTFS" && break
        echo "mmdebstrap attempt $attempt failed:" >&2
        tail -20 "$work/mmdebstrap.log" >&2
    done
    [ -d "$NSPAWN_ROOTFS" ] && echo "$NSPAWN_PACKAGES" >"$stamp"
}

# nspawn_boot NAME [extra nspawn arguments]: boots the tree (changes go to a throwaway overlay) with
# $work bound on /mnt/share, sets P to its PID 1 and waits until systemd is up. With NSPAWN_DIRECTORY set,
# boots that directory instead and keeps its changes (a machine that can be rebooted: each boot gets a new
# boot ID from nspawn and an empty /run).
nspawn_boot() {
    NSPAWN_NAME=$1
    shift
    local volatile=(--volatile=overlay)
    [ -n "${NSPAWN_DIRECTORY:-}" ] && volatile=()
    setsid systemd-nspawn -D "${NSPAWN_DIRECTORY:-$NSPAWN_ROOTFS}" --boot --register=no --keep-unit -M "$NSPAWN_NAME" \
        --console=pipe "${volatile[@]}" --private-network --bind="$work":/mnt/share "$@" >>"$work/nspawn.log" 2>&1 \
        </dev/null &
    P=
    local n
    for _ in $(seq 100); do
        n=$(pgrep -f "systemd-nspawn .* -M $NSPAWN_NAME " | head -1)
        [ -n "$n" ] && P=$(pgrep -P "$n" -x systemd) && [ -n "$P" ] && break
        sleep 0.1
    done
    [ -n "$P" ] || { cat "$work/nspawn.log" >&2; return 1; }
    trap nspawn_stop EXIT
    local s
    for _ in $(seq 100); do
        s=$(inside systemctl is-system-running 2>/dev/null)
        [ "$s" = running ] || [ "$s" = degraded ] && break
        sleep 0.1
    done
    NSPAWN_STATE=$s
}

# Runs a command in every namespace of the container, under a timeout.
inside() { timeout 120 nsenter -t "$P" -a "$@"; }

nspawn_stop() {
    [ -n "${P:-}" ] || return 0
    nsenter -t "$P" -a systemctl poweroff >/dev/null 2>&1
    for _ in $(seq 50); do kill -0 "$P" 2>/dev/null || break; sleep 0.1; done
    pkill -9 -f "systemd-nspawn .* -M $NSPAWN_NAME " 2>/dev/null
    rm -rf "/run/systemd/nspawn/propagate/$NSPAWN_NAME"
}

# --- The enforcement scenarios (enforcement-*-e2e.sh): set `bin` (the build directory) and `work` first. ---

# A line for the test (Tests/EndToEndTests/EnforcementTests.swift) and a human.
result() { echo "RESULT $1=$2"; }

# scenario_boot NAME: builds or reuses the tree, boots it (or NSPAWN_DIRECTORY) with this checkout's binaries
# and Swift runtime bound read-only, stops it and the collector on exit.
scenario_boot() {
    nspawn_rootfs || { result rootfs failed; exit 1; }
    local runtime
    runtime=$(ldd "$bin/postured" | awk '/libswiftCore.so =>/ {print $3}' | xargs -r dirname)
    SCENARIO_BINDS=(--bind-ro="$bin")
    [ -n "$runtime" ] && SCENARIO_BINDS+=(--bind-ro="$runtime")
    nspawn_boot "$1" "${SCENARIO_BINDS[@]}" || { result boot failed; exit 1; }
    trap scenario_cleanup EXIT
    result boot "$NSPAWN_STATE"
}

scenario_cleanup() {
    pkill -f "state-dir $work/collector" 2>/dev/null
    nspawn_stop
}

# start_collector [DEVICES_PORT]: the real collector in the container's network namespace (so the agent
# reaches it on its loopback), on free ports unless DEVICES_PORT is given, with a one-rule policy.
start_collector() {
    [ -e "$work/policy.yaml" ] ||
        printf 'report: {maxAge: 1h}\nrules:\n  - {name: sshd-ok, check: sshd, permitEmptyPasswords: false}\n' \
            >"$work/policy.yaml"
    nsenter -t "$P" -n "$bin/posture-collector" serve --state-dir "$work/collector" --policy "$work/policy.yaml" \
        --listen-enrollment 127.0.0.1:0 --listen-devices "127.0.0.1:${1:-0}" --listen-api 127.0.0.1:0 \
        >"$work/collector.log" 2>&1 </dev/null &
    for _ in $(seq 300); do grep -q '^listening api' "$work/collector.log" && break; sleep 0.1; done
}

# enroll_device: enrolls the container's agent with the collector; sets `device` and reports it.
enroll_device() {
    local url token pin
    url=$(awk '/^listening enrollment/ {print $3}' "$work/collector.log")
    token=$("$bin/posture-collector" token create --state-dir "$work/collector")
    pin=$("$bin/posture-collector" ca fingerprint --state-dir "$work/collector")
    device=$(inside "$bin/postured" enroll --collector "$url" --token "$token" --ca-fingerprint "$pin" \
        --state-dir /var/lib/posture | awk '/^device / {print $2}')
    result device "$device"
}

# operator ACTION REASON: quarantine or release the device at the collector.
operator() {
    "$bin/posture-collector" devices "$1" "$device" --reason "$2" --by secops --state-dir "$work/collector" >/dev/null
}

# install_agent_unit OPTIONS [SERVICE_LINES]: the shipped unit (packaging/systemd/postured.service, its
# sandbox and capabilities) with a drop-in running this checkout's postured with OPTIONS, plus SERVICE_LINES
# (each ending in \n) in its [Service] section.
install_agent_unit() {
    cp "$(dirname "${BASH_SOURCE[0]}")/../../systemd/postured.service" "$work/postured.service"
    inside cp /mnt/share/postured.service /etc/systemd/system/postured.service
    # What posture-agent's postinst does: the unit's SupplementaryGroups=tss needs the group.
    inside sh -c 'getent group tss >/dev/null || addgroup --system --quiet tss'
    inside mkdir -p /etc/systemd/system/postured.service.d
    printf '[Service]\nExecStart=\nExecStart=%s/postured run --state-dir /var/lib/posture %s\nPrivateTmp=no\n%b' \
        "$bin" "$1" "${2:-}" >"$work/test.conf"
    inside cp /mnt/share/test.conf /etc/systemd/system/postured.service.d/test.conf
    inside systemctl daemon-reload
}
