#!/usr/bin/env bash
# Installs what the portal's browser test (tests/test_portal_browser.py) needs: Debian's chromium and the
# playwright Python package. `playwright install` downloads its own browsers and fails offline: never used;
# the test launches /usr/bin/chromium through executable_path instead.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV_PY="${VENV_PY:-.venv/bin/python}"

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" != "0" ]; then
        echo "browser.sh: /usr/bin/chromium is missing; run as root (or: sudo apt-get install -y chromium)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends chromium
fi

if ! "$VENV_PY" -c "import playwright" 2>/dev/null; then
    "$VENV_PY" -m pip install -q "playwright>=1.45"
fi

/usr/bin/chromium --version
