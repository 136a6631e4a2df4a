#!/bin/sh
# Runs INSIDE the QEMU guest (see run-in-vm.sh): builds real disk layouts with dm-crypt, LVM, btrfs and
# NVMe, and for each captures what the disk-encryption probe reads, as the kernel shows it to a process
# whose root filesystem is the layout's: /proc/self/mountinfo and /proc/swaps verbatim, the sysfs block
# entries (with their symlinks, relative as the kernel makes them), /sys/fs/btrfs members, /dev/mapper
# links, and `lsblk -J` as an independent reading. expected.json is the layout's ground truth.
# Host side: packaging/testbed/qemu/capture-disk-fixtures-host.sh.
set -eu
out=/mnt/share/fixtures
rm -rf "$out"
mkdir -p "$out"
key=/run/posture.key
head -c 64 /dev/urandom > "$key"
udevadm settle || true

luks() { # luks TYPE DEVICE NAME
    cryptsetup luksFormat --type "$1" --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$key" "$2"
    cryptsetup open --key-file "$key" "$2" "$3"
}

# Copies one sysfs block device's attributes and links into the fixture tree $2.
copy_block() { # copy_block NAME DEST
    name=$1 dest=$2
    link=$(readlink "/sys/class/block/$name")
    mkdir -p "$dest/sys/class/block"
    ln -sfn "$link" "$dest/sys/class/block/$name"
    real=$(readlink -f "/sys/class/block/$name")
    mkdir -p "$dest$real"
    for attr in dev partition size ro removable dm/name dm/uuid loop/backing_file md/level; do
        if [ -r "$real/$attr" ]; then
            mkdir -p "$(dirname "$dest$real/$attr")"
            cat "$real/$attr" > "$dest$real/$attr" 2>/dev/null || true
        fi
    done
    # slaves/ only: the probe walks down the stack. holders/ would close symlink loops
    # (dm-1/slaves/vdb1/holders/dm-1/...) that tools walking the source tree (swift test) never leave.
    mkdir -p "$dest$real/slaves"
    for entry in "$real/slaves"/*; do
        [ -e "$entry" ] || [ -L "$entry" ] || continue
        ln -sfn "$(readlink "$entry")" "$dest$real/slaves/$(basename "$entry")"
    done
    # A partition's parent disk directory must exist with its own attributes.
    if [ -r "$real/partition" ]; then
        parent=$(dirname "$real")
        mkdir -p "$dest$parent"
        for attr in dev size ro removable; do cat "$parent/$attr" > "$dest$parent/$attr" 2>/dev/null || true; done
    fi
}

# Runs inside the pivoted namespace: everything here sees the layout's filesystem as /.
capture_here() { # capture_here DEST
    dest=$1
    mkdir -p "$dest/proc/self" "$dest/sys/dev/block" "$dest/dev/mapper"
    cat /proc/self/mountinfo > "$dest/proc/self/mountinfo"
    cat /proc/swaps > "$dest/proc/swaps"
    for name in $(ls /sys/class/block); do copy_block "$name" "$dest"; done
    for entry in /sys/dev/block/*; do ln -sfn "$(readlink "$entry")" "$dest/sys/dev/block/$(basename "$entry")"; done
    if [ -d /sys/fs/btrfs ]; then
        for fs in /sys/fs/btrfs/*/; do
            [ -d "$fs/devices" ] || continue
            id=$(basename "$fs")
            mkdir -p "$dest/sys/fs/btrfs/$id/devices"
            for member in "$fs"devices/*; do
                ln -sfn "$(readlink "$member")" "$dest/sys/fs/btrfs/$id/devices/$(basename "$member")"
            done
        done
    fi
    for entry in /dev/mapper/*; do
        [ -L "$entry" ] && ln -sfn "$(readlink "$entry")" "$dest/dev/mapper/$(basename "$entry")"
    done
    lsblk -J -o NAME,KNAME,PATH,TYPE,MAJ:MIN,PKNAME,FSTYPE,MOUNTPOINTS > "$dest/lsblk.json"
}

# Puts the tools the capture needs on the layout's root, since after pivot_root nothing else exists.
install_tools() { # install_tools ROOT
    root=$1
    mkdir -p "$root/bin" "$root/usr/bin"
    cp /bin/busybox "$root/bin/busybox"
    mkdir -p "$root/etc"
    : > "$root/etc/fstab"  # busybox swapoff -a reads it
    for tool in sh cat ls readlink mkdir ln dirname basename rm umount swapon swapoff; do ln -sf busybox "$root/bin/$tool"; done
    cp /usr/bin/lsblk "$root/usr/bin/lsblk"
    for lib in $(ldd /usr/bin/lsblk | grep -o '/[^ ]*'); do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}

# capture LAYOUT EXPECTED_JSON ROOT_DEVICE [ROOT_MOUNT_OPTIONS], then lines on stdin:
#   "MOUNTPOINT DEVICE [OPTIONS]" to mount below the new root, "swap PATH" to swapon a device or a file
#   (as the new root sees it). Swap is switched on after pivot_root, so that /proc/swaps shows paths as
#   the pivoted process sees them.
capture() {
    layout=$1 expected=$2 device=$3 options=${4:-defaults}
    extra=$(cat)
    mkdir -p "$out/$layout"
    printf '%s\n' "$expected" > "$out/$layout/expected.json"
    mkdir -p /newroot
    mount -o "$options" "$device" /newroot
    install_tools /newroot
    umount /newroot
    unshare -m --propagation private /bin/sh -eu -c '
        mount -o "$2" "$1" /newroot
        printf "%s\n" "$3" | while read -r point dev opts; do
            [ -n "$point" ] || continue
            [ "$point" != swap ] || continue
            mkdir -p "/newroot$point"
            mount -o "${opts:-defaults}" "$dev" "/newroot$point"
        done
        mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/mnt/share /newroot/oldroot
        mount -t proc proc /newroot/proc
        mount -t sysfs sysfs /newroot/sys
        mount --rbind /dev /newroot/dev
        mount --bind /mnt/share /newroot/mnt/share
        # Swap goes on after pivot_root (busybox swapon, which does not rewrite the path the way
        # util-linux canonicalises dm devices), so /proc/swaps names it as the pivoted process sees it.
        printf "%s\n" "$3" | while read -r point dev opts; do
            [ "$point" != swap ] || echo "$dev"
        done > /newroot/etc/posture-swaps
        cd /newroot
        pivot_root . oldroot
        umount -l /oldroot
        exec /bin/sh /mnt/share/capture-here.sh "/mnt/share/fixtures/$4"
    ' capture "$device" "$options" "$extra" "$layout"
    echo "captured $layout"
}

# The capture code as a file the pivoted busybox shell can run; swap areas are released from inside.
sed -n '/^copy_block() {/,/^}/p; /^capture_here() {/,/^}/p' "$0" > /mnt/share/capture-here.sh
cat >> /mnt/share/capture-here.sh <<'TAIL'
while read -r path; do swapon "$path"; done < /etc/posture-swaps
capture_here "$1"
# busybox's swapoff -a reads /etc/fstab, so release the swap areas one by one from /proc/swaps.
header=1
while read -r path rest; do
    if [ "$header" = 1 ]; then header=0; continue; fi
    swapoff "$path"
done < /proc/swaps
TAIL

sfdisk -q /dev/vdb <<'PARTS'
label: gpt
size=300M
size=300M
size=100M
size=500M
size=400M
PARTS
sfdisk -q /dev/nvme0n1 <<'PARTS'
label: gpt
size=700M
size=700M
PARTS
udevadm settle || true

# 1. LUKS2 root, LUKS2 /home, swap on plain dm-crypt with a random key.
luks luks2 /dev/vdb1 cryptroot
luks luks2 /dev/vdb2 crypthome
cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 --key-file /dev/urandom /dev/vdb3 cryptswap
mkfs.ext4 -q /dev/mapper/cryptroot
mkfs.ext4 -q /dev/mapper/crypthome
mkswap -q /dev/mapper/cryptswap
capture luks2-root '{"layout": "vdb1 LUKS2 -> ext4 /; vdb2 LUKS2 -> ext4 /home; vdb3 plain dm-crypt -> swap", "rootEncrypted": true, "homeEncrypted": true, "allSwapEncrypted": true}' /dev/mapper/cryptroot <<'MOUNTS'
/home /dev/mapper/crypthome
swap /dev/mapper/cryptswap
MOUNTS

# 2. A swap file on the encrypted root.
mount /dev/mapper/cryptroot /mnt
dd if=/dev/zero of=/mnt/swapfile bs=1M count=32 status=none
chmod 600 /mnt/swapfile
mkswap -q /mnt/swapfile
umount /mnt
capture encrypted-swapfile '{"layout": "vdb1 LUKS2 -> ext4 / with /swapfile on it", "rootEncrypted": true, "homeEncrypted": null, "allSwapEncrypted": true}' /dev/mapper/cryptroot <<'MOUNTS'
swap /swapfile
MOUNTS
cryptsetup close crypthome
cryptsetup close cryptswap

# 3. LVM on LUKS: one LUKS2 partition holding a volume group with root, home and swap.
luks luks2 /dev/vdb4 cryptlvm
pvcreate -q /dev/mapper/cryptlvm
vgcreate -q vg0 /dev/mapper/cryptlvm
lvcreate -q -y -L 200M -n root vg0
lvcreate -q -y -L 100M -n home vg0
lvcreate -q -y -L 40M -n swap vg0
mkfs.ext4 -q /dev/vg0/root
mkfs.ext4 -q /dev/vg0/home
mkswap -q /dev/vg0/swap
capture lvm-on-luks '{"layout": "vdb4 LUKS2 -> LVM vg0 -> root (ext4 /), home (ext4 /home), swap", "rootEncrypted": true, "homeEncrypted": true, "allSwapEncrypted": true}' /dev/vg0/root <<'MOUNTS'
/home /dev/vg0/home
swap /dev/vg0/swap
MOUNTS
vgchange -q -an vg0
cryptsetup close cryptlvm

# 4. LUKS on LVM on NVMe, with an unencrypted swap LV beside it.
pvcreate -q /dev/nvme0n1p1
vgcreate -q vg1 /dev/nvme0n1p1
lvcreate -q -y -L 300M -n cryptroot vg1
lvcreate -q -y -L 40M -n swap vg1
luks luks1 /dev/vg1/cryptroot luksroot
mkfs.ext4 -q /dev/mapper/luksroot
mkswap -q /dev/vg1/swap
capture luks-on-lvm '{"layout": "nvme0n1p1 LVM vg1 -> LV cryptroot -> LUKS1 -> ext4 /; LV swap unencrypted", "rootEncrypted": true, "homeEncrypted": null, "allSwapEncrypted": false}' /dev/mapper/luksroot <<'MOUNTS'
swap /dev/vg1/swap
MOUNTS
cryptsetup close luksroot
vgchange -q -an vg1

# 5. btrfs on LUKS2 on NVMe, subvolumes @ as / and @home as /home.
luks luks2 /dev/nvme0n1p2 cryptbtrfs
mkfs.btrfs -q /dev/mapper/cryptbtrfs
mount /dev/mapper/cryptbtrfs /mnt
btrfs -q subvolume create /mnt/@
btrfs -q subvolume create /mnt/@home
umount /mnt
capture btrfs-nvme-luks '{"layout": "nvme0n1p2 LUKS2 -> btrfs, subvolume @ at /, @home at /home", "rootEncrypted": true, "homeEncrypted": true, "allSwapEncrypted": null}' /dev/mapper/cryptbtrfs subvol=@ <<'MOUNTS'
/home /dev/mapper/cryptbtrfs subvol=@home
MOUNTS
cryptsetup close cryptbtrfs

# 6. The bypass: an unencrypted root, and a LUKS2 container in a loop file mounted at /mnt/vault.
mkfs.ext4 -q /dev/vdb5
mount /dev/vdb5 /mnt
dd if=/dev/zero of=/mnt/vault.img bs=1M count=40 status=none
loopdev=$(losetup --find --show /mnt/vault.img)
luks luks2 "$loopdev" vault
mkfs.ext4 -q /dev/mapper/vault
umount -l /mnt
capture plain-root-encrypted-loop '{"layout": "vdb5 ext4 / (unencrypted); loop over /vault.img -> LUKS2 -> ext4 at /mnt/vault", "rootEncrypted": false, "homeEncrypted": null, "allSwapEncrypted": null}' /dev/vdb5 <<'MOUNTS'
/mnt/vault /dev/mapper/vault
MOUNTS
cryptsetup close vault
losetup -d "$loopdev"

# 7. Nothing encrypted: plain root with a swap file.
mount /dev/vdb5 /mnt
dd if=/dev/zero of=/mnt/swapfile bs=1M count=32 status=none
chmod 600 /mnt/swapfile
mkswap -q /mnt/swapfile
umount /mnt
capture unencrypted '{"layout": "vdb5 ext4 / (unencrypted) with /swapfile on it", "rootEncrypted": false, "homeEncrypted": null, "allSwapEncrypted": false}' /dev/vdb5 <<'MOUNTS'
swap /swapfile
MOUNTS
cryptsetup close cryptroot

uname -r > "$out/KERNEL"
echo "all layouts captured"
