#!/usr/bin/env bash
# The whole test suite, from a fresh clone: install what the tests need, lint, build, run every test.
# Runs as root: the firewall tests create network namespaces and load nftables rulesets.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root "$@"
install_packages
echo "== lint (swift format lint --strict)"
swift format lint --strict --recursive Sources Tests Package.swift
echo "== test"
swift test "$@"
