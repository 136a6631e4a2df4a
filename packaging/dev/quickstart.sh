#!/usr/bin/env bash
# The main job, from a fresh clone: install what is needed, build, and print this host's posture.
# Usage: packaging/dev/quickstart.sh [postured probe options, e.g. --format json]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root "$@"
install_packages
swift build -c release --product postured
exec .build/release/postured probe "$@"
