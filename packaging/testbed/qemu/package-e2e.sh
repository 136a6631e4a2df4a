#!/usr/bin/env bash
# Host side of the QEMU package scenario: boots the testbed image (a real kernel, device-mapper, a virtual TPM
# behind tpm-tis) and runs guest-package-e2e.sh in it with the .debs on the 9p share. Exit code: the guest's
# (failures), or 1.
# Usage (root): package-e2e.sh DEB_DIR WORK_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
debs=$1 work=$2
version=$(dpkg-parsechangelog -l "$here/../../debian/changelog" -S Version)
rm -rf "$work" && mkdir -p "$work"
cp "$debs/posture-agent_${version}_amd64.deb" "$debs/posture-collector_${version}_amd64.deb" "$work/"
status=0
POSTURE_VM_TPM=1 "$here/run-in-vm.sh" "$here/guest-package-e2e.sh" "$work" 900 || status=$?
cat "$work/output.log" 2>/dev/null || true
if [ "$status" -ne 0 ]; then
    echo "the guest failed ($status); logs in $work (serial.log, apt.log, journal.log). Serial console tail:" >&2
    tail -n 30 "$work/serial.log" >&2 || true
fi
exit "$status"
