#!/usr/bin/env bash
# Sets up a fresh machine for appnet work: a virtualenv in .venv with the real azure-cli
# from PyPI and everything the tests and the demo use, and the extension's wheel in
# dist/. Safe to run again: packages are reinstalled only when the requirements change.
# Versions are pinned in constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements-dev.txt constraints.txt setup.py | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing Python packages (azure-cli, kubernetes, ...) at the versions in constraints.txt" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
  .venv/bin/python -c "import azure.cli.core, kubernetes, kubernetes_validate, cryptography, flake8, pylint, importlinter"
  echo "$want" > "$stamp"
fi

command -v kubectl >/dev/null || echo "note: kubectl is not on PATH; kubectl tests will be skipped" >&2
command -v openssl >/dev/null || { echo "==> installing openssl" >&2; apt-get update -qq && apt-get install -y -qq openssl >/dev/null; }

# Azurite (Blob Storage emulator) for the shared state store's tests, into node_modules/.
if command -v npm >/dev/null; then
  if [ ! -x node_modules/.bin/azurite-blob ]; then
    echo "==> installing Azurite (npm azurite@3) into node_modules/" >&2
    npm install --no-save --no-audit --no-fund --silent azurite@3 >&2
  fi
else
  echo "note: npm is not on PATH; Azurite is not installed and the shared-state (blob) tests will be skipped" >&2
fi

echo "==> building the extension wheel" >&2
rm -rf build dist
.venv/bin/python setup.py --quiet bdist_wheel >/dev/null 2>&1
ls dist/appnet-*-py3-none-any.whl >&2
