#!/usr/bin/env bash
# Installs what the browser tests (tests/test_portal_browser.py, tests/test_airflow_browser.py) need: Debian's
# chromium, a CJK font and the playwright Python package. `playwright install` downloads its own browsers and
# fails offline: never used; the tests launch /usr/bin/chromium through executable_path instead.
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

# a CJK font, so screenshots of the Chinese DAG names and portal pages show the characters, not boxes
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    if [ "$(id -u)" != "0" ]; then
        echo "browser.sh: no CJK font; run as root (or: sudo apt-get install -y fonts-wqy-zenhei)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends fonts-wqy-zenhei
fi

if ! "$VENV_PY" -c "import playwright" 2>/dev/null; then
    "$VENV_PY" -m pip install -q "playwright>=1.45"
fi

/usr/bin/chromium --version
