# Shared by the nspawn scenarios: a cached Debian 12 root filesystem, booting it with systemd-nspawn,
# running commands inside, and stopping it. Source it; set `work` (the share directory) first.
# See ../../../../shared/TESTBED.md for why each flag is there.

# The container's own system bus, whatever the caller's environment points at.
unset DBUS_SYSTEM_BUS_ADDRESS

# What the tree holds: systemd, logind (PAM), sshd, nftables, and what the packages depend on (adduser,
# libsqlite3-0), so `apt-get install ./posture-*.deb` works with no network in the container.
NSPAWN_PACKAGES=systemd,systemd-sysv,dbus,libpam-systemd,iproute2,nftables,iptables,openssh-server,util-linux
NSPAWN_PACKAGES+=,procps,ca-certificates,bsdutils,adduser,libsqlite3-0
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
