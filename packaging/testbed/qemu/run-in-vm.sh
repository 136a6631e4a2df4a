#!/usr/bin/env bash
# Boots the testbed image under QEMU (software emulation, never KVM) with two empty extra disks, a
# virtio disk (vdb) and an NVMe disk (nvme0n1), runs GUEST_SCRIPT inside, and returns its exit code.
# Usage: run-in-vm.sh GUEST_SCRIPT SHARE_DIR [timeout seconds, default 900]
# With POSTURE_VM_TPM=1 the guest also has a TPM 2.0 (swtpm behind QEMU's tpm-tis; SeaBIOS measures the boot
# and the kernel exposes its event log), manufactured with EK certificates from a CA of the run's own, whose
# root is SHARE_DIR/tpm-endorsement-root.pem (the collector's tpm.endorsementRoots).
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
tpm_args=()
if [ "${POSTURE_VM_TPM:-0}" = 1 ]; then
    tpm=$work/tpm
    mkdir -p "$tpm/state" "$tpm/ca"
    # swtpm_localca's CA under the run's directory, not /var/lib/swtpm-localca (what /etc's files say).
    printf '%s\n' "create_certs_tool = /usr/bin/swtpm_localca" "create_certs_tool_config = $tpm/localca.conf" \
        "create_certs_tool_options = /etc/swtpm-localca.options" "active_pcr_banks = sha256" >"$tpm/setup.conf"
    printf '%s\n' "statedir = $tpm/ca" "signingkey = $tpm/ca/signkey.pem" "issuercert = $tpm/ca/issuercert.pem" \
        "certserial = $tpm/ca/certserial" >"$tpm/localca.conf"
    swtpm_setup --tpm2 --tpm-state "$tpm/state" --config "$tpm/setup.conf" --create-ek-cert --pcr-banks sha256 \
        --overwrite >"$share/swtpm_setup.log" 2>&1
    cp "$tpm/ca/swtpm-localca-rootca-cert.pem" "$share/tpm-endorsement-root.pem"
    cp "$tpm/ca/issuercert.pem" "$share/tpm-endorsement-intermediate.pem"
    # QEMU initialises it over the control channel and SeaBIOS sends TPM2_Startup; it exits with QEMU.
    swtpm socket --tpm2 --tpmstate dir="$tpm/state" --ctrl type=unixio,path="$tpm/ctrl.sock" \
        --log file="$share/swtpm.log",level=1 --terminate &
    for _ in $(seq 50); do [ -S "$tpm/ctrl.sock" ] && break; sleep 0.1; done
    tpm_args=(-chardev socket,id=chrtpm,path="$tpm/ctrl.sock" -tpmdev emulator,id=tpm0,chardev=chrtpm
        -device tpm-tis,tpmdev=tpm0)
fi
start=$(date +%s)
timeout --kill-after=10 "$limit" qemu-system-x86_64 -accel tcg -m 2048 -smp 2 -display none -no-reboot \
    -kernel "$kernel" -initrd "$initrd" \
    -append "root=/dev/vda rw console=ttyS0 net.ifnames=0 systemd.show_status=0 quiet" \
    -drive file="$work/root.qcow2",if=virtio,format=qcow2,cache=unsafe \
    -drive file="$work/vdb.img",if=virtio,format=raw,cache=unsafe \
    -drive file="$work/nvme.img",if=none,id=nvme0,format=raw,cache=unsafe -device nvme,serial=posture1,drive=nvme0 \
    -virtfs local,path="$share",mount_tag=share,security_model=none,id=share "${tpm_args[@]}" \
    -nic none -serial file:"$share/serial.log" || true
echo "qemu ran $(( $(date +%s) - start )) s" >&2
if [ ! -f "$share/exit-code" ]; then
    echo "the guest wrote no exit code; see $share/serial.log" >&2
    exit 1
fi
exit "$(cat "$share/exit-code")"
