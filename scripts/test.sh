#!/usr/bin/env bash
# Runs every test: unit, the emulators' own, integration against emulated clusters, and
# end-to-end through the real `az` with the extension installed from its wheel.
# Extra arguments go to pytest (e.g. scripts/test.sh -k join -x).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
