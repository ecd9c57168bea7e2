#!/usr/bin/env bash
# Runs every test: unit, the emulators' own, integration against emulated clusters, and
# end-to-end through the real `az` with the extension installed from its wheel.
# Extra arguments go to pytest (e.g. scripts/test.sh -k join -x; -n 0 runs in one process).
#
# The tests mostly wait (for emulated rollouts, for az to start), so they run in
# APPNET_TEST_WORKERS processes (default 4, even on two cores), a test file per worker at a
# time: a file's module-scoped fixtures are then built once.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m pytest -n "${APPNET_TEST_WORKERS:-4}" --dist loadfile "$@"
