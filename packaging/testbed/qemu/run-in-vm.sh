#!/usr/bin/env bash
# Boots the testbed image under QEMU (software emulation, never KVM) with two empty extra disks, a
# virtio disk (vdb) and an NVMe disk (nvme0n1), runs GUEST_SCRIPT inside, and returns its exit code.
# Usage: run-in-vm.sh GUEST_SCRIPT SHARE_DIR [timeout seconds, default 900]
# GUEST_SCRIPT is copied to SHARE_DIR/run-in-vm.sh; SHARE_DIR is /mnt/share in the guest, where the
# script's output (output.log) and exit code (exit-code) land. The serial console goes to SHARE_DIR/serial.log.
set -euo pipefail
script=$1 share=$2 limit=${3:-900}
here=$(cd "$(dirname "$0")" && pwd)
cache=$("$here/build-image.sh")
kernel=$(ls "$cache"/bookworm-tree/boot/vmlinuz-* | head -n1)
initrd=$(ls "$cache"/bookworm-tree/boot/initrd.img-* | head -n1)
mkdir -p "$share"
cp "$script" "$share/run-in-vm.sh"
rm -f "$share/exit-code" "$share/output.log"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The root image is used copy-on-write so runs never change the cached image.
qemu-img create -q -f qcow2 -F raw -b "$cache/bookworm.img" "$work/root.qcow2"
truncate -s 2G "$work/vdb.img" "$work/nvme.img"
start=$(date +%s)
timeout --kill-after=10 "$limit" qemu-system-x86_64 -accel tcg -m 2048 -smp 2 -display none -no-reboot \
    -kernel "$kernel" -initrd "$initrd" \
    -append "root=/dev/vda rw console=ttyS0 net.ifnames=0 systemd.show_status=0 quiet" \
    -drive file="$work/root.qcow2",if=virtio,format=qcow2,cache=unsafe \
    -drive file="$work/vdb.img",if=virtio,format=raw,cache=unsafe \
    -drive file="$work/nvme.img",if=none,id=nvme0,format=raw,cache=unsafe -device nvme,serial=posture1,drive=nvme0 \
    -virtfs local,path="$share",mount_tag=share,security_model=none,id=share \
    -nic none -serial file:"$share/serial.log" || true
echo "qemu ran $(( $(date +%s) - start )) s" >&2
if [ ! -f "$share/exit-code" ]; then
    echo "the guest wrote no exit code; see $share/serial.log" >&2
    exit 1
fi
exit "$(cat "$share/exit-code")"
