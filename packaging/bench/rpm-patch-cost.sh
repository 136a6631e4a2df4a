#!/usr/bin/env bash
# Cost of the patch probe on an rpm system of Fedora's size, against dnf on the same cache: a tree with
# 2,500 installed packages in a real rpmdb.sqlite (one package built by rpmbuild and installed by rpm,
# its header copied under 2,499 other names of the same length), and a dnf cache holding one enabled
# repository of 70,000 packages (primary.xml about as large per package as Fedora's: provides, requires,
# files) with 6,000 advisories, zstd-compressed as Fedora publishes it. Prints the CPU of `postured probe`
# on the tree with and without the cache (the difference is the rpm/dnf reading; a new process reads it
# cold), and `dnf -C check-update` and `dnf -C updateinfo list --security` on the same tree for reference.
# Usage (root): rpm-patch-cost.sh BUILD_DIR WORK_DIR   (needs rpm, rpmbuild, createrepo_c, dnf, zstd)
set -euo pipefail
bin=$1; work=$2
rm -rf "$work"; mkdir -p "$work/home" "$work/root/etc/yum.repos.d"
export HOME=$work/home
printf '%%_dbpath /usr/lib/sysimage/rpm\n' > "$HOME/.rpmmacros"
printf 'Name: pkg00000\nVersion: 1.0\nRelease: 1.fc41\nSummary: s\nLicense: MIT\nBuildArch: noarch\n%%description\nd\n%%files\n' > "$work/seed.spec"
rpmbuild -bb --quiet --define "_topdir $work/build" "$work/seed.spec" > /dev/null 2>&1
rpm --root "$work/root" --initdb
rpm --root "$work/root" -i --nodeps "$work"/build/RPMS/noarch/*.rpm 2> /dev/null
python3 - "$work/root/usr/lib/sysimage/rpm/rpmdb.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
blob = db.execute("SELECT blob FROM Packages").fetchone()[0]
for n in range(1, 2500):
    db.execute("INSERT INTO Packages (blob) VALUES (?)", (blob.replace(b"pkg00000\0", b"pkg%05d\0" % n),))
db.commit()
PY
cache=$work/repo/repodata
mkdir -p "$cache"
python3 - "$cache" <<'PY'
import sys, time
cache = sys.argv[1]
now = int(time.time())
with open(cache + "/primary.xml", "w") as out:
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" '
              'xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="70000">\n')
    for n in range(70000):
        # Installed ones (below 2,500): one in ten has a newer release; advisories name only those with one.
        release = "2.fc41" if n < 2500 and n % 10 == 0 else "1.fc41"
        provides = "".join('<rpm:entry name="lib%05d-%d.so()(64bit)"/>' % (n, k) for k in range(6))
        requires = "".join('<rpm:entry name="dep%05d" flags="GE" epoch="0" ver="1.%d"/>' % (n, k) for k in range(10))
        files = "".join("<file>/usr/bin/tool%05d-%d</file>" % (n, k) for k in range(3))
        out.write(
            '<package type="rpm"><name>pkg%05d</name><arch>noarch</arch>'
            '<version epoch="0" ver="1.0" rel="%s"/><checksum type="sha256" pkgid="YES">%064x</checksum>'
            "<summary>Package number %d &amp; friends</summary><description>A package of the benchmark, "
            "described at about the length of Fedora's descriptions: it does one thing and does it well, "
            "and this sentence is here for its bytes.</description><packager>Fedora Project</packager>"
            '<url>https://example.org/pkg%05d</url><time file="%d" build="%d"/>'
            '<size package="123456" installed="456789" archive="460000"/><location href="Packages/p/pkg%05d-1.0-%s.noarch.rpm"/>'
            "<format><rpm:license>MIT</rpm:license><rpm:vendor>Fedora Project</rpm:vendor><rpm:group>Unspecified</rpm:group>"
            '<rpm:buildhost>buildhw.fedoraproject.org</rpm:buildhost><rpm:sourcerpm>pkg%05d-1.0-%s.src.rpm</rpm:sourcerpm>'
            '<rpm:header-range start="4504" end="12345"/><rpm:provides>%s</rpm:provides><rpm:requires>%s</rpm:requires>%s</format></package>\n'
            % (n, release, n, n, n, now, now, n, release, n, release, provides, requires, files))
    out.write("</metadata>\n")
with open(cache + "/updateinfo.xml", "w") as out:
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n<updates>\n')
    for a in range(6000):
        kind = "security" if a % 3 == 0 else "bugfix"
        pkgs = "".join('<package name="pkg%05d" version="1.0" release="2.fc41" epoch="0" arch="noarch" src="x.src.rpm">'
                       "<filename>pkg%05d-1.0-2.fc41.noarch.rpm</filename></package>" % (((a * 7 + k) % 7000) * 10, ((a * 7 + k) % 7000) * 10)
                       for k in range(3))
        out.write('<update from="updates@fedoraproject.org" status="stable" type="%s" version="2.0"><id>FEDORA-2026-%06d</id>'
                  "<title>update %d</title><issued date=\"2026-11-%02d 10:00:00\"/><severity>Moderate</severity>"
                  "<description>Fixes things.</description><references/><pkglist><collection short=\"F41\"><name>Fedora 41</name>%s"
                  "</collection></pkglist></update>\n" % (kind, a, a, a % 28 + 1, pkgs))
    out.write("</updates>\n")
PY
zstd -q --rm -T0 "$cache/primary.xml" "$cache/updateinfo.xml"
# repomd.xml with the checksums librepo verifies, so that dnf makecache fills the tree's cache as it does
# on a host (the directory name is dnf's hash of the URL).
python3 - "$cache" <<'PY'
import hashlib, subprocess, sys, time
cache = sys.argv[1]
now = int(time.time())
data = ""
for kind, name in (("primary", "primary.xml.zst"), ("updateinfo", "updateinfo.xml.zst")):
    raw = open(cache + "/" + name, "rb").read()
    plain = subprocess.run(["zstd", "-dc", cache + "/" + name], capture_output=True, check=True).stdout
    data += ('<data type="%s"><checksum type="sha256">%s</checksum><open-checksum type="sha256">%s</open-checksum>'
             '<location href="repodata/%s"/><timestamp>%d</timestamp><size>%d</size><open-size>%d</open-size></data>\n'
             % (kind, hashlib.sha256(raw).hexdigest(), hashlib.sha256(plain).hexdigest(), name, now, len(raw), len(plain)))
open(cache + "/repomd.xml", "w").write('<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo" '
    'xmlns:rpm="http://linux.duke.edu/metadata/rpm"><revision>%d</revision>\n%s</repomd>\n' % (now, data))
PY
printf '[bench]\nname=bench\nbaseurl=file://%s/repo\ngpgcheck=0\n' "$work" > "$work/root/etc/yum.repos.d/bench.repo"
dnf --installroot "$work/root" --releasever 41 -q makecache
ls -la "$work"/root/var/cache/dnf/bench-*/repodata
TIMEFORMAT="%R s wall, %U s user, %S s sys"
for round in 1 2 3; do
    echo "postured probe, 2,500 installed, cache of 70,000 packages (zstd):"
    time "$bin/postured" probe --root "$work/root" --format json > "$work/probe.json"
    echo "postured probe, the same tree without the dnf cache:"
    mv "$work/root/var/cache/dnf" "$work/dnf-away"
    time "$bin/postured" probe --root "$work/root" --format json > /dev/null
    mv "$work/dnf-away" "$work/root/var/cache/dnf"
done
python3 -c "import json,sys; p=json.load(open(sys.argv[1]))['patches']['packages']; v=p.get('value',p); print({k: v[k] for k in ('installed','pending','pendingSecurity')} if 'installed' in v else p)" "$work/probe.json"
for round in 1 2; do
    # dnf turns the metadata into libsolv's .solv files once, then reads those: cold, then warm.
    rm -f "$work"/root/var/cache/dnf/*.solv "$work"/root/var/cache/dnf/*.solvx
    echo "dnf -C check-update, metadata read again (reference, cold):"
    time (dnf --installroot "$work/root" --releasever 41 -C -q check-update > "$work/dnf.txt" 2>&1 || true)
    echo "dnf -C check-update, from its .solv files (reference, warm):"
    time (dnf --installroot "$work/root" --releasever 41 -C -q check-update > "$work/dnf.txt" 2>&1 || true)
    echo "dnf -C updateinfo list --security (reference, warm):"
    time (dnf --installroot "$work/root" --releasever 41 -C -q updateinfo list --security > "$work/dnf-security.txt" 2>&1)
done
echo "dnf: $(grep -c '^pkg' "$work/dnf.txt") upgradable, $(awk '{print $3}' "$work/dnf-security.txt" | sort -u | grep -c pkg) packages with security advisories"
