# Shared by the developer scripts: run as root (re-exec through sudo if needed), install packages.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# Debian packages the build and the tests need (liblz4-dev, liblzma-dev, libzstd-dev: the agent reads apt's
# compressed lists and dnf's compressed repository metadata; libsqlite3, for rpm's database, is loaded at run time).
# The tests use the real tools, not stand-ins:
# systemd-journal-remote makes journal files, nft/iptables load rulesets in network namespaces,
# lsblk and Debian's python3 are oracles; curl, openssl s_client, python3-cryptography and python3-jwt are
# independent TLS and JOSE clients for the collector; dbus-daemon and python3-dbus/python3-gi host a
# stand-in logind; mmdebstrap and systemd-container boot a real Debian with logind and sshd for enforcement;
# faketime (libfaketime) sets a collector's or an agent's clock wrong and right again in the fault tests;
# chromium and chromium-driver run the dashboard in a real browser (Selenium, from PyPI with schemathesis,
# which checks the collector against its OpenAPI document); binutils' nm counts each module's symbols in the
# built binaries (ModuleGraphTests); libtss2-dev has the tpm2-tss headers the agent's TPM layer is built against
# (the library itself is loaded at run time, where a TPM is).
POSTURE_APT_PACKAGES=(
    pkg-config libsystemd-dev libnftables-dev zlib1g-dev liblz4-dev liblzma-dev libzstd-dev
    systemd systemd-journal-remote nftables iptables iproute2 util-linux python3
    jq openssl curl python3-cryptography python3-jwt dbus-daemon python3-dbus python3-gi
    mmdebstrap systemd-container openssh-client faketime
    debhelper dpkg-dev lintian help2man qemu-system-x86 qemu-utils
    chromium chromium-driver binutils libtss2-dev
)
# Only the tests need these: PostgreSQL 15 (the conformance suite starts a throwaway cluster of its own with
# initdb and pg_ctl; nothing is assumed running) and HAProxy (three collectors behind it in TCP mode).
# python3-yaml turns openapi.yaml into the served JSON when the test checks the generated code (openapi.sh).
# openssh-server is the target host that posture-bound SSH certificates log in to (and the KRL refuses);
# sudo (and its visudo) is what time-bound sudo grants are written for and checked with. swtpm is the TPM 2.0
# a device key lives in where the machine has none; tpm2-tools and tpm2-openssl (OpenSSL's tpm2 provider) are
# the independent clients that read what the agent put in it. lz4 compresses package lists as apt keeps them
# in Debian's container images, for the patch-level probe's tests; rpm (rpmbuild), createrepo-c and dnf make
# and read the rpm database and dnf metadata cache of its Fedora-style tests, and zstd, xz-utils and zchunk
# compress that metadata as Fedora and older repositories publish it.
POSTURE_TEST_APT_PACKAGES=(
    postgresql haproxy python3-yaml openssh-server sudo swtpm swtpm-tools tpm2-tools tpm2-openssl lz4
    rpm createrepo-c dnf zstd xz-utils zchunk
)
# From PyPI, pinned to the versions the tests were written against.
POSTURE_PIP_PACKAGES=(selenium==4.51.0 schemathesis==4.32.5)

require_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "$0 needs root (apt-get, network namespaces, nftables); re-running with sudo" >&2
        exec sudo --preserve-env=PATH,CI "$0" "$@"
    fi
}

install_packages() {
    install_apt_packages "${POSTURE_APT_PACKAGES[@]}"
    install_pip_packages
}

install_test_packages() {
    install_packages
    install_apt_packages "${POSTURE_TEST_APT_PACKAGES[@]}"
}

install_pip_packages() {
    # Debian's own python3 refuses pip without --break-system-packages (PEP 668); pyenv's does not.
    local pip=(python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore)
    "${pip[@]}" "${POSTURE_PIP_PACKAGES[@]}" || "${pip[@]}" --break-system-packages "${POSTURE_PIP_PACKAGES[@]}"
}

install_apt_packages() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -q
    apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
}
