#!/usr/bin/env bash
# A TPM-bound device on this machine, with swtpm standing in for the TPM a laptop has: swtpm_setup
# manufactures a TPM 2.0 with endorsement key certificates from a local CA (the "manufacturer"), a
# collector trusts that CA (tpm.endorsementRoots), and `postured enroll --tpm swtpm:…` makes the device key
# inside the TPM, proves it there (credential activation, Certify) and attests. The device then shows
# keyProtection: tpm and its TPM's endorsement fingerprint; its state directory holds no private key.
# On a machine with a real TPM the enrollment is the same one command with --tpm auto (the default), and
# the collector trusts the TPM maker's EK CA instead. Everything lives in a new /tmp/posture-tpm.* directory.
# Usage: packaging/dev/tpm-demo.sh [--bin DIR]   (default: a release build, as the quick start makes)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root "$@"
bin=.build/release
[ "${1:-}" = "--bin" ] && bin=$2
if [ "$bin" = .build/release ]; then
    install_packages
    install_apt_packages swtpm swtpm-tools tpm2-tools
    swift build -c release --product postured
    swift build -c release --product posture-collector
fi
work=$(mktemp -d /tmp/posture-tpm.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done; }
trap cleanup EXIT
collector() { "$bin/posture-collector" "$@" --state-dir "$work/collector"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "== swtpm: a TPM 2.0 with EK certificates from its own CA ($work/ca)"
mkdir -p "$work/state" "$work/ca"
printf 'create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = %s\ncreate_certs_tool_options = /etc/swtpm-localca.options\nactive_pcr_banks = sha256\n' \
    "$work/localca.conf" >"$work/setup.conf"
printf 'statedir = %s/ca\nsigningkey = %s/ca/signkey.pem\nissuercert = %s/ca/issuercert.pem\ncertserial = %s/ca/certserial\n' \
    "$work" "$work" "$work" "$work" >"$work/localca.conf"
swtpm_setup --tpm2 --tpm-state "$work/state" --config "$work/setup.conf" --create-ek-cert --pcr-banks sha256 \
    --overwrite >/dev/null
port=$(free_port)
swtpm socket --tpm2 --tpmstate dir="$work/state" --server type=tcp,port="$port",bindaddr=127.0.0.1 \
    --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 --flags not-need-init,startup-clear &
pids+=($!)
tcti="swtpm:host=127.0.0.1,port=$port"
for _ in $(seq 50); do ss -Hltn "sport = :$port" | grep -q LISTEN && break; sleep 0.1; done

echo "== collector trusting that CA (tpm.endorsementRoots)"
printf 'tpm:\n  endorsementRoots:\n    - %s/ca/swtpm-localca-rootca-cert.pem\n    - %s/ca/issuercert.pem\n' \
    "$work" "$work" >"$work/collector.yaml"
"$bin/posture-collector" serve --config "$work/collector.yaml" --state-dir "$work/collector" \
    --listen-enrollment 127.0.0.1:0 --listen-devices 127.0.0.1:0 --listen-api 127.0.0.1:0 >"$work/collector.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening api' "$work/collector.log" && break; sleep 0.1; done
enroll_url=$(awk '/^listening enrollment/ {print $3}' "$work/collector.log")

echo "== postured enroll --tpm $tcti"
"$bin/postured" enroll --collector "$enroll_url" --token "$(collector token create)" \
    --ca-fingerprint "$(collector ca fingerprint)" --state-dir "$work/agent" --tpm "$tcti"
echo "state directory: $(ls "$work/agent" | tr '\n' ' ')"
"$bin/postured" run --state-dir "$work/agent" --count 1 --interval 1s >"$work/agent.log" 2>&1
device=$(jq -r .deviceID "$work/agent/enrollment.json")

echo "== the device as the collector recorded it"
collector devices show "$device" | jq '.device | {id, hostname, keyProtection, tpm: .tpm.endorsementFingerprint}'
echo "== its certificate's key-protection extension"
openssl x509 -in "$work/agent/device.crt" -noout -text | grep -A1 '2.25.2418163901314430718'
echo "== what its report's quote proved booted (swtpm has no firmware: PCRs zero, no event log)"
collector devices show "$device" --format table | sed -n '/^key /,/^pcr 9 /p'
