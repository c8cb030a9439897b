#!/usr/bin/env bash
# Make sure Debian's Chromium is installed: the dashboard's browser tests drive it through
# Playwright (which never downloads a browser of its own here).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
echo "Chromium is not installed; installing Debian's package" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
