#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the main job: a demo mesh of three emulated clusters
# joined into one Application Network with the real `az`. Add --keep to leave it running.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
