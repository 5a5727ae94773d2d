#!/usr/bin/env bash
# Set up (with test tools), run the test suite, then the eval quality gate.
# A test run leaves the working tree as it found it (reports go to ignored folders).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
before=$(git status --porcelain 2>/dev/null || true)
.venv/bin/python -m pytest -q "$@"
.venv/bin/python -m eval
after=$(git status --porcelain 2>/dev/null || true)
if [ "$before" != "$after" ]; then
  echo "error: the test run changed the working tree:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  exit 1
fi
