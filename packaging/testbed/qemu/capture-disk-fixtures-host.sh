#!/usr/bin/env bash
# Host side: boots the QEMU testbed, runs capture-disk-fixtures.sh in the guest, and installs the trees it
# captured as the disk probe's test fixtures (Tests/PostureProbesTests/Fixtures/disk/<layout>/).
# Needs root, qemu-system-x86, qemu-utils, mmdebstrap (packaging/testbed/qemu/README.md). About 3 minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
share=$(mktemp -d)
"$here/run-in-vm.sh" "$here/capture-disk-fixtures.sh" "$share" 1200 || {
    echo "the guest failed; its output (kept in $share):" >&2
    cat "$share/output.log" >&2 || true
    tail -n 40 "$share/serial.log" >&2 || true
    exit 1
}
trap 'rm -rf "$share"' EXIT
target=$repo/Tests/PostureProbesTests/Fixtures/disk
rm -rf "$target"
mkdir -p "$target"
cp -a "$share/fixtures/." "$target/"
echo "fixtures from kernel $(cat "$target/KERNEL") installed in $target:" >&2
ls "$target" >&2
