#!/usr/bin/env bash
# The book: build the quick book (every lesson run in a Jupyter kernel, rendered with the
# source pages) and check every page in headless Chromium (tests/browser_check.py).
# Needs the [book] extra, websocket-client and the `chromium` package.
set -euo pipefail
cd "$(dirname "$0")/.."
# BOOK_DIR: a quick book already built (.ci/run's wheel step builds one from the installed
# wheel): checked as it is, not built twice.
# the book's extras (CI has installed them already: no second build of the kernels), and
# the DevTools client browser_check.py talks to Chromium with
python -c "import jupytext, nbclient, nbconvert, tinygrad_edu" 2>/dev/null || python -m pip install -q -e ".[book]"
python -m pip install -q websocket-client
if [ -n "${BOOK_DIR:-}" ] && [ -f "$BOOK_DIR/index.html" ]; then
  python tests/browser_check.py "$BOOK_DIR"
else
  rm -rf .ci-book
  python -m tinygrad_edu book --out .ci-book --quick
  python tests/browser_check.py .ci-book
fi
