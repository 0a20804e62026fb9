#!/usr/bin/env bash
# Debian's Chromium, for the test that opens the Airflow trigger form in a headless browser
# (tests/test_production_stack.py). Needs root (or sudo); does nothing if it is there already.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && { chromium --version; exit 0; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q chromium > /tmp/install-chromium.log 2>&1 \
  || { $SUDO apt-get update -q > /dev/null && $SUDO apt-get install -y -q chromium > /tmp/install-chromium.log 2>&1; } \
  || { tail -20 /tmp/install-chromium.log; exit 1; }
chromium --version
