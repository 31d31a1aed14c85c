#!/usr/bin/env bash
# What the benchmarks need beyond the Python venv: wrk, a load generator written in C
# (a Python one takes the CPU the servers it measures need). Debian's package `wrk`.
# Idempotent: a second run only checks.
set -euo pipefail

if command -v wrk >/dev/null 2>&1; then
  echo "install-bench-deps: $(wrk -v 2>&1 | head -1)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "install-bench-deps: installing Debian's wrk"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null
wrk -v 2>&1 | head -1
