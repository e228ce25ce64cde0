#!/usr/bin/env bash
# One command for a newcomer: set up the venv, then run the demo (sandbox API -> ETL -> SQLite
# -> dashboard). No accounts, no network beyond the package index.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
exec .venv/bin/python scripts/demo.py "$@"
