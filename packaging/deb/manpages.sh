#!/usr/bin/env bash
# Man pages from the binaries' own --help (help2man), with every subcommand's help appended.
# Usage: manpages.sh BIN_DIR MAN_DIR VERSION
set -euo pipefail
bin=$1 man=$2 version=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ln -s "$(cd "$bin" && pwd)/postured" "$work/posturectl"

page() { # name section binary description subcommands...
    local name=$1 section=$2 binary=$3 description=$4
    shift 4
    {
        echo "[COMMANDS]"
        for sub in "$@"; do
            echo ".SS \"$name $sub\""
            echo ".nf"
            "$binary" $sub --help | sed 's/\\/\\\\/g; s/^\./\\\&./'
            echo ".fi"
        done
        echo "[FILES]"
        case $name in
        postured)
            echo "/etc/default/postured (options), /etc/posture/enrollment.conf (unattended enrollment),"
            echo "/var/lib/posture (device key, certificate, spool, verdict, enforcement record)." ;;
        posturectl)
            echo "/var/lib/posture (the agent's state, read by status);"
            echo "~/.config/posture/posturectl.conf (collector, token-file, ca for the operator commands)." ;;
        posture-collector)
            echo "/etc/posture/collector.yaml (configuration), /etc/posture/policy.yaml (compliance policy),"
            echo "/var/lib/posture-collector (CA, server certificate, SQLite store)." ;;
        esac
        echo "[SEE ALSO]"
        echo "postured(8), posturectl(1), posture-collector(8); /usr/share/doc/posture-agent/README.md"
    } >"$work/$name.include"
    help2man --no-info --no-discard-stderr --section="$section" --name="$description" \
        --version-string="$version" --include="$work/$name.include" "$binary" >"$man/$name.$section"
}

page postured 8 "$bin/postured" "Posture agent: signed device posture reports, enforcement of verdicts" \
    probe enroll run status release-access
page posture-collector 8 "$bin/posture-collector" "Posture collector: enrollment, verified attestations, verdicts" \
    serve check-config token devices ca events policy apitoken waivers audit
page posturectl 1 "$work/posturectl" "Posture's command line: this device's state, and the fleet through the collector's API" \
    status "devices list" "devices show" "devices quarantine" "devices release" "devices revoke" "fleet summary" \
    "waivers grant" "waivers list" "waivers revoke" "tokens create" "audit verify" events version
# The same page in both packages, under the names update-alternatives links posturectl.1.gz to.
cp "$man/posturectl.1" "$man/posturectl-agent.1"
mv "$man/posturectl.1" "$man/posturectl-collector.1"
