#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it with
# executable_path; nothing is downloaded from a browser CDN). Idempotent:
# does nothing when `chromium` is already on the PATH.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: no chromium and no apt-get; install Chromium yourself" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "install-browser: installing Debian's chromium (apt-get)…" >&2
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium
