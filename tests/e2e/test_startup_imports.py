"""az imports every extension's loader on a command-index miss, and our command table on
every `az appnet` call: neither may import kubernetes, cryptography or an Azure SDK.
Measured with `python -X importtime` on the real az, with the extension from its wheel."""

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

# yaml is left out: knack itself loads it to render help.
HEAVY = re.compile(r"^(kubernetes|cryptography|azure\.identity|azure\.keyvault|azure\.storage|"
                   r"azure\.mgmt|urllib3|msal)(\.|$)")
LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|( *)(\S+)$")


def _importtime(az, *args):
    az("appnet", "list")  # builds the command index, so the measured run is an index hit
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "azure.cli", *args],
                          env=az.env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # importtime prints a module after its children, indented one level deeper per nesting.
    return [(len(m.group(1)) // 2, m.group(2)) for m in map(LINE.match, proc.stderr.splitlines()) if m]


def _imported_by_us(lines):
    """Heavy modules imported while one of our modules was being imported."""
    found, pending = set(), []
    for depth, module in lines:
        children = [(d, m) for d, m in pending if d > depth]
        pending = [(d, m) for d, m in pending if d <= depth]
        if module.startswith("azext_appnet"):
            found |= {m for _, m in children if HEAVY.match(m)}
        pending.extend(children)
        pending.append((depth, module))
    return sorted(found)


def test_loading_the_command_table_and_help_imports_nothing_heavy(az):
    lines = _importtime(az, "appnet", "member", "join", "--help")  # table, arguments, custom.py
    ours = [m for _, m in lines if m.startswith("azext_appnet")]
    assert {"azext_appnet.commands", "azext_appnet._params"} <= set(ours)
    assert _imported_by_us(lines) == []


def test_a_command_without_cluster_or_key_imports_nothing_heavy(az):
    lines = _importtime(az, "appnet", "list")
    assert any(m == "azext_appnet.engine" for _, m in lines)
    assert sorted({m for _, m in lines if HEAVY.match(m)}) == []
