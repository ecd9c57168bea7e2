#!/usr/bin/env bash
# The lint stage, as .ci/run and .pre-commit-config.yaml run it: flake8 (.flake8), pylint
# (pylintrc) and the import contracts (.importlinter), with the tools setup.sh installed
# at the versions in constraints.txt. Runs all three and fails if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
failed=()
# flake8 also on the benchmarks and the Kubernetes emulator, which are code we keep.
"$bin/flake8" azext_appnet bench tests/kubesim || failed+=(flake8)
"$bin/pylint" azext_appnet || failed+=(pylint)
"$bin/lint-imports" || failed+=(lint-imports)
if [ ${#failed[@]} -gt 0 ]; then
  echo "lint failed: ${failed[*]}" >&2
  exit 1
fi
