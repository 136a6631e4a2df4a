#!/usr/bin/env bash
# Builds (or reuses) a Debian 12 tree and a raw ext4 disk image that boots under QEMU with a real
# kernel: device-mapper, dm-crypt, LVM, btrfs and NVMe, none of which the build machines' kernel has.
# At boot a oneshot unit mounts the 9p share `share` on /mnt/share, runs /mnt/share/run-in-vm.sh, writes
# its output and exit code there, and powers off.
# Cache: $POSTURE_TESTBED_CACHE (default /var/cache/posture-testbed). Prints the cache directory.
set -euo pipefail
cache=${POSTURE_TESTBED_CACHE:-/var/cache/posture-testbed}
tree=$cache/bookworm-tree
image=$cache/bookworm.img
stamp=$cache/image.stamp
here=$(cd "$(dirname "$0")" && pwd)
# Rebuild when this script changes.
want=$(sha256sum "$0" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$image" ]; then
    echo "$cache"
    exit 0
fi
mkdir -p "$cache"
rm -rf "$tree" "$image"
packages=systemd,systemd-sysv,udev,kmod,dbus,linux-image-amd64,initramfs-tools,e2fsprogs,util-linux,fdisk,
packages+=cryptsetup-bin,lvm2,btrfs-progs,busybox-static,procps,iproute2,nftables,ca-certificates
# What the packages depend on beyond the above, for `apt-get install ./posture-*.deb` with no network.
packages+=,adduser,libsqlite3-0
# What posture-agent recommends for a device key in the TPM (the guest has a virtual one): tpm2-tss.
packages+=,libtss2-esys-3.0.2-0,libtss2-tctildr0,libtss2-mu0,libtss2-rc0
timeout 900 mmdebstrap --variant=minbase --include="$packages" \
    --essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" && echo MODULES=list > "$1/etc/initramfs-tools/conf.d/posture" && printf "virtio_pci\nvirtio_blk\next4\n" >> "$1/etc/initramfs-tools/modules"' \
    --customize-hook='printf "9p\n9pnet_virtio\ndm_mod\ndm_crypt\nnvme\nloop\nbtrfs\n" > "$1/etc/modules-load.d/posture.conf"' \
    --customize-hook="cp '$here/posture-run.service' \"\$1/etc/systemd/system/\" && ln -sf /etc/systemd/system/posture-run.service \"\$1/etc/systemd/system/multi-user.target.wants/posture-run.service\"" \
    --customize-hook='echo posture-vm > "$1/etc/hostname"; systemd-machine-id-setup --root="$1" >/dev/null 2>&1 || true' \
    bookworm "$tree" >&2
timeout 300 mkfs.ext4 -q -F -L root -d "$tree" "$image" 3G >&2
echo "$want" > "$stamp"
echo "$cache"
