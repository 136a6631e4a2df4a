#!/bin/sh
# The reference posture-bench compares against: one probe cycle done the shell way, with lsblk, nft,
# journalctl, jq and openssl. Usage: reference-probe.sh JOURNAL_FILE CURSOR KEY_PEM
set -eu
journal=$1 cursor=$2 key=$3
out=$(mktemp)
{
  echo '{"os":'
  jq -Rn '[inputs | select(test("^[A-Z_]+=")) | split("=") | {key: .[0], value: (.[1:] | join("=") | ltrimstr("\"") | rtrimstr("\""))}] | from_entries' /etc/os-release
  printf ',"kernel":"%s","arch":"%s","machineId":"%s","bootId":"%s","uptime":"%s"' \
    "$(uname -r)" "$(uname -m)" "$(cat /etc/machine-id)" "$(cat /proc/sys/kernel/random/boot_id)" "$(cut -d' ' -f1 /proc/uptime)"
  echo ',"disk":'
  lsblk -J -o NAME,KNAME,TYPE,PKNAME,MOUNTPOINTS | jq '[.blockdevices[] | .. | objects | select(.mountpoints? != null) | {name, type, mountpoints}]'
  echo ',"swaps":'
  tail -n +2 /proc/swaps | jq -Rn '[inputs | split(" ")[0]]'
  echo ',"firewall":'
  nft -j list ruleset | jq '[.nftables[] | select(.chain) | .chain | {family, table, name, hook, policy}]'
  echo ',"journal":'
  journalctl --file "$journal" --after-cursor "$cursor" -o json --no-pager \
    | jq -s '{counts: (group_by(.SYSLOG_IDENTIFIER) | map({key: .[0].SYSLOG_IDENTIFIER, value: length}) | from_entries), cursor: (last | .__CURSOR)}'
  echo '}'
} > "$out"
jq -c . "$out" | openssl dgst -sha256 -sign "$key" -out "$out.sig"
rm -f "$out" "$out.sig"
