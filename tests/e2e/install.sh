#!/usr/bin/env bash
# Install the browser tests' one npm dependency, playwright-core, exactly as
# package-lock.json pins it, into tests/e2e/node_modules. No browser is
# downloaded: the tests drive Debian's chromium (apt-get install chromium).
# run.mjs calls the same `npm ci` itself when node_modules is missing.
set -euo pipefail
cd "$(dirname "$0")"
command -v npm >/dev/null || { echo "npm not found (apt-get install nodejs npm)" >&2; exit 1; }
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
