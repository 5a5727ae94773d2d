#!/usr/bin/env bash
# Set up (with test tools), run the test suite, then the eval quality gate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/python -m pytest -q "$@"
.venv/bin/python -m eval
