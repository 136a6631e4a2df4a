#!/usr/bin/env bash
# Builds posture-agent_*.deb and posture-collector_*.deb: static release binaries (no Swift needed on the
# target), man pages from their --help, then debhelper (compat 13) and lintian --fail-on error,warning.
# Usage: packaging/deb/build-debs.sh [OUT_DIR] [--rebuild SUFFIX]
#   OUT_DIR defaults to .build-deb; --rebuild SUFFIX packages the same binaries again as version
#   <version>SUFFIX with a changelog entry saying so (the end-to-end harness's upgrade).
# Prints the sizes (compressed .deb, installed) of both packages.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
out=${1:-.build-deb}
suffix=""
[ "${2:-}" = "--rebuild" ] && suffix=$3
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)

if [ -z "$suffix" ]; then
    # --as-needed: no DT_NEEDED for a library whose symbols a binary does not use (the collector links
    # the agent's status code, not libnftables).
    flags=(-c release --static-swift-stdlib -Xlinker --as-needed)
    echo "== swift build ${flags[*]}" >&2
    swift build "${flags[@]}" --product postured >&2
    swift build "${flags[@]}" --product posture-collector >&2
    bin=$(swift build "${flags[@]}" --show-bin-path)
    rm -rf "$out/binaries" && mkdir -p "$out/binaries"
    cp "$bin/postured" "$bin/posture-collector" "$out/binaries/"
fi
[ -x "$out/binaries/postured" ] || { echo "no binaries in $out/binaries: run without --rebuild first" >&2; exit 1; }

stage=$out/posture-$version$suffix
rm -rf "$stage" && mkdir -p "$stage/build/man" "$stage/build/doc/agent" "$stage/build/doc/collector"
cp -r packaging/debian "$stage/debian"
cp packaging/systemd/postured.service "$stage/debian/posture-agent.postured.service"
cp packaging/systemd/posture-collector.service "$stage/debian/posture-collector.posture-collector.service"
# One catalog of every MESSAGE_ID, under a name per package (journalctl ignores the duplicate IDs when
# both are installed); systemd's dpkg trigger runs journalctl --update-catalog.
mkdir -p "$stage/build/catalog/agent" "$stage/build/catalog/collector"
cp packaging/systemd/posture.catalog "$stage/build/catalog/agent/posture-agent.catalog"
cp packaging/systemd/posture.catalog "$stage/build/catalog/collector/posture-collector.catalog"
cp -r etc "$stage/etc"
cp -r packaging/agent "$stage/build/agent"
cp "$out/binaries/postured" "$out/binaries/posture-collector" "$stage/build/"
cp Sources/PostureAgent/README.md "$stage/build/doc/agent/README.md"
cp Sources/PostureCollector/README.md Sources/PostureCollector/PROTOCOL.md "$stage/build/doc/collector/"
if [ -n "$suffix" ]; then
    { printf 'posture (%s) bookworm; urgency=medium\n\n  * Rebuilt (%s).\n\n -- %s  %s\n\n' \
        "$version$suffix" "$suffix" "Posture developers <posture@example.org>" "$(date -R)"
      cat packaging/debian/changelog; } >"$stage/debian/changelog"
fi

# Man pages from --help: the page says what the binary does, never what it used to.
"$root/packaging/deb/manpages.sh" "$stage/build" "$stage/build/man" "$version"

echo "== dpkg-buildpackage (posture $version$suffix)" >&2
(cd "$stage" && dpkg-buildpackage -b -us -uc >"$out/dpkg-buildpackage.log" 2>&1) ||
    { tail -40 "$out/dpkg-buildpackage.log" >&2; exit 1; }
agent=$out/posture-agent_${version}${suffix}_amd64.deb
collector=$out/posture-collector_${version}${suffix}_amd64.deb
echo "== lintian --fail-on error,warning" >&2
lintian --fail-on error,warning "$agent" "$collector" >&2
for deb in "$agent" "$collector"; do
    printf '%s: %s bytes compressed, %s KiB installed; Depends: %s\n' "$(basename "$deb")" "$(stat -c %s "$deb")" \
        "$(dpkg-deb -f "$deb" Installed-Size)" "$(dpkg-deb -f "$deb" Depends)"
done
