#!/usr/bin/env bash
# Debian's Chromium for the report's browser test (tests/reports/test_browser.py). Needs root and
# network; where either is missing the test skips with the reason.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: not root or no apt-get; the browser test will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq chromium >/dev/null || echo "install-chromium: apt-get failed; the browser test will skip" >&2
