#!/usr/bin/env bash
# Set up .venv/ at the repo root with everything the product needs (idempotent).
#   bash scripts/setup.sh          # the product
#   bash scripts/setup.sh --test   # + test tools and Debian's Chromium for browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
extra=""
[ "${1:-}" = "--test" ] && extra="[test]"
stamp=".venv/.installed${extra}-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  # setuptools warns about every editable install ("Editable installation... be careful with folders"):
  # it is the install we want, so the warning is not shown
  PYTHONWARNINGS="ignore:Editable installation" .venv/bin/python -m pip install -q -e ".${extra}"
  touch "$stamp"
fi
if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "Installing Debian's chromium for the browser tests..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install chromium; browser tests will be skipped" >&2
  else
    echo "warning: chromium not found and cannot apt-get it; browser tests will be skipped" >&2
  fi
fi
echo "Set-up done. Next: .venv/bin/python -m ui  (the chat page on http://127.0.0.1:7860)" \
     "or bash scripts/test.sh  (the tests and the eval gate)." >&2
