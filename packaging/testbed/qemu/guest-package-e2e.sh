#!/bin/bash
# In the QEMU guest (a real kernel with device-mapper): installs posture-collector and posture-agent from
# /mnt/share with apt-get, opens a LUKS2 volume on a loop device and mounts it at /srv/vault, enrolls the
# agent unattended, and checks what the installed agent reported to the installed collector: the root
# (plain ext4 on vda) unencrypted although an encrypted volume is mounted, and /srv/vault encrypted (luks2);
# with the virtual TPM, the device key in it and every report quoting the boot, whose event log (the real
# kernel's, written by SeaBIOS) the collector replays to the PCRs this kernel reads.
# Prints ok/FAILED per check; the exit code is the number of failures.
# posture-run.service starts the guest script with /bin/sh: come back under bash.
[ -n "${BASH_VERSION:-}" ] || exec /bin/bash "$0" "$@"
set -u
failures=0
check() {
    if [ "$2" = "$3" ]; then echo "ok      $1: $2"; else echo "FAILED  $1: got '$2', want '$3'"; failures=$((failures + 1)); fi
}
wait_for() {
    local limit=$1
    shift
    for _ in $(seq $((limit * 2))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
    return 1
}
echo "== kernel $(uname -r); device-mapper $(test -e /dev/mapper/control && echo present || echo absent)"
export DEBIAN_FRONTEND=noninteractive
timeout 300 apt-get install -y -q /mnt/share/posture-collector_*_amd64.deb /mnt/share/posture-agent_*_amd64.deb \
    >/mnt/share/apt.log 2>&1
check "packages installed" "$(dpkg-query -W -f='${Status} ' posture-collector posture-agent)" \
    "install ok installed install ok installed "
wait_for 120 systemctl is-active -q posture-collector
check "collector" "$(systemctl is-active posture-collector)" "active"

tpm=no
if [ -e /dev/tpmrm0 ]; then
    tpm=yes
    echo "== the collector trusts the virtual TPM's manufacturer (the run's CA)"
    install -m 0644 /mnt/share/tpm-endorsement-root.pem /mnt/share/tpm-endorsement-intermediate.pem /etc/posture/
    sed -i 's|^  endorsementRoots: \[\]|  endorsementRoots: [/etc/posture/tpm-endorsement-root.pem, /etc/posture/tpm-endorsement-intermediate.pem]|' \
        /etc/posture/collector.yaml
    systemctl restart posture-collector
    wait_for 120 systemctl is-active -q posture-collector
    # securityfs reports a size of 0: read a byte instead.
    check "event log" "$(head -c 1 /sys/kernel/security/tpm0/binary_bios_measurements | wc -c)" "1"
fi

echo "== LUKS2 on a loop device, mounted at /srv/vault"
truncate -s 64M /var/tmp/vault.img
loop=$(losetup -f --show /var/tmp/vault.img)
head -c 32 /dev/urandom >/run/vault.key
timeout 120 cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
    --key-file /run/vault.key "$loop"
timeout 60 cryptsetup open --key-file /run/vault.key "$loop" vault
mkfs.ext4 -q /dev/mapper/vault
mkdir -p /srv/vault && mount /dev/mapper/vault /srv/vault
check "dm uuid" "$(cut -c1-12 /sys/block/dm-0/dm/uuid)" "CRYPT-LUKS2-"
findmnt -n -o SOURCE,TARGET,FSTYPE / /srv/vault

echo "== enroll the installed agent unattended; its reports go to the installed collector"
sed -i 's/^POSTURED_OPTIONS=.*/POSTURED_OPTIONS="--enforce off --interval 5s"/' /etc/default/postured
token=$(posture-collector token create --label site=qemu)
pin=$(posture-collector ca fingerprint)
printf 'collector = https://127.0.0.1:8443\nca-fingerprint = %s\ntoken = %s\n' "$pin" "$token" >/etc/posture/enrollment.conf
systemctl restart postured
wait_for 120 sh -c 'posturectl status | grep -q "^device "'
device=$(posturectl status | awk '/^device / {print $2}' | sed 's|.*/device/||')
echo "device $device"
reports() { posture-collector devices show "$device" --format table | awk '/^reports / {print $2}'; }
wait_for 120 sh -c "[ \"\$(posture-collector devices show $device --format table | awk '/^reports / {print \$2}')\" -ge 2 ]"
posture-collector devices show "$device" --format table >/mnt/share/device.txt 2>&1
sed -n '/^Disk encryption/,/^$/p' /mnt/share/device.txt
check "reports stored" "$([ "$(reports)" -ge 2 ] && echo yes || echo no)" "yes"
check "root encrypted (as reported)" "$(awk '/^  root encrypted/ {print $3}' /mnt/share/device.txt)" "no"
check "/srv/vault (as reported)" "$(grep -c '^  /srv/vault \[ext4\] .*luks2' /mnt/share/device.txt)" "1"
if [ "$tpm" = yes ]; then
    echo "== TPM: the device key in it; each report quotes PCR 0-9 and carries the kernel's event log"
    sed -n '/^key /,/^pcr 9 /p' /mnt/share/device.txt
    check "key protection" "$(awk '/^key / {print $2}' /mnt/share/device.txt)" "tpm"
    check "event log replayed to the quoted PCRs" "$(awk '/^boot / {print $4}' /mnt/share/device.txt)" "replayed:"
    for pcr in 0 1 2 3 4 5 6 7 8 9; do
        kernel=$(tr 'A-F' 'a-f' </sys/class/tpm/tpm0/pcr-sha256/$pcr)
        check "PCR $pcr quoted = kernel's" "$(awk -v n="$pcr" '$1 == "pcr" && $2 == n {print $3}' /mnt/share/device.txt)" "$kernel"
    done
fi
# The same machine through the agent's own probe, as an independent reading of this kernel's view.
postured probe --format json >/mnt/share/probe.json
flat=$(tr -d ' \n' </mnt/share/probe.json)
check "probe: root unencrypted" "$(grep -o '"rootEncrypted":{[^}]*"value":false}' <<<"$flat" | wc -l)" "1"
check "probe: /srv/vault luks2" \
    "$(grep -o '"encrypted":true,"encryption":\["luks2"\],"fsType":"ext4","mountPoints":\["/srv/vault"\]' <<<"$flat" | wc -l)" "1"
journalctl -u postured -u posture-collector --no-pager >/mnt/share/journal.log 2>&1
echo "$failures failure(s)"
exit "$failures"
