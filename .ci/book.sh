#!/usr/bin/env bash
# The book: build the quick book (every lesson run in a Jupyter kernel, rendered with the
# source pages) and check every page in headless Chromium (tests/browser_check.py).
# Needs the [book] extra, websocket-client and the `chromium` package.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[book]" websocket-client
rm -rf .ci-book
python -m tinygrad_edu book --out .ci-book --quick
python tests/browser_check.py .ci-book
