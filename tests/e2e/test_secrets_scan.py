"""No private key and no cluster credential in anything az appnet writes (issue 4).

A network is created, a cluster joins it, its intermediate is rotated (inline and by a
detached worker), the root is rotated and the rotation finished, once failing on an
unreachable cluster and then resumed: every command with --debug. Then every stdout and
stderr, every row of the state file (and its raw bytes), every worker log and every other
file under AZURE_CONFIG_DIR apart from the key store are searched for:

- PEM private-key markers;
- the private keys themselves, as they were at any point (every key the key store held and
  every ca-key.pem the cluster's cacerts Secret held): base64 of their DER, the lines of
  their PEM, the base64 of the PEM as a Secret's `data` carries it, the private scalar in
  hex, and their DER bytes in binary files;
- the emulated cluster's admin bearer token.

It also checks the key store's file modes: keys 0600 in 0700 directories.
"""

import base64
import os
import pathlib
import sqlite3
import stat
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization

from tests.e2e.conftest import AZ, Result

pytestmark = pytest.mark.e2e

NS = "applink-system"
PEM_MARKER = "PRIVATE KEY-----"


class Needles:
    """Everything that would betray a key or the token, as text and as bytes."""

    def __init__(self):
        self.text = {}    # needle -> what it is
        self.binary = {}

    def add_key(self, key, label):
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        self.binary.setdefault(der, f"DER of {label}")
        self.text.setdefault(base64.b64encode(der).decode(), f"base64 DER of {label}")
        for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
            pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
            for line in pem.splitlines()[1:-1]:
                if len(line) >= 40:
                    self.text.setdefault(line, f"PEM line of {label}")
            # As a Secret's `data` carries it (a logged request body would show this).
            encoded = base64.b64encode(pem.encode()).decode()
            for i in range(0, len(encoded) - 48, 48):
                self.text.setdefault(encoded[i:i + 48], f"base64 of the PEM of {label}")
        numbers = key.private_numbers()
        secret = getattr(numbers, "private_value", None) or getattr(numbers, "d")
        self.text.setdefault(format(secret, "x"), f"private scalar (hex) of {label}")
        self.text.setdefault(format(secret, "X"), f"private scalar (HEX) of {label}")

    def add_pem_key(self, pem, label):
        self.add_key(serialization.load_pem_private_key(pem if isinstance(pem, bytes) else pem.encode(),
                                                        password=None), label)

    def find_in_text(self, text):
        found = [what for needle, what in self.text.items() if needle in text]
        if PEM_MARKER in text:
            found.append("a PEM private key marker")
        return found

    def find_in_bytes(self, data):
        found = [what for needle, what in self.binary.items() if needle in data]
        return found + self.find_in_text(data.decode("latin-1"))


def _state_rows(path):
    """Every row of every table of the state file, as text."""
    rows = []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - table names from sqlite itself
                rows.append(f"{table}: {row!r}")
    return rows


def test_no_key_or_token_anywhere(az, clusters):
    (sim,) = clusters(1)
    config = pathlib.Path(az.config_dir)
    keys_dir = config / "appnet" / "keys"
    needles = Needles()
    needles.text[sim.admin_token] = "the cluster's admin bearer token"
    outputs = []

    def collect_keys():
        for path in keys_dir.rglob("*.key.pem"):
            needles.add_pem_key(path.read_bytes(), f"key file {path.name}")
        secret = sim.get_object("v1", "secrets", NS, "cacerts")
        if secret:
            needles.add_pem_key(base64.b64decode(secret["data"]["ca-key.pem"]), "cacerts ca-key.pem")

    def run(*args, rc=0):
        if rc == 0:
            result = az(*args, "--debug")
        else:
            # With --debug, az logs a failing command's traceback on purpose; the Az helper
            # refuses tracebacks, so a command expected to fail is run directly.
            result = Result(subprocess.run([str(AZ), *args, "--debug"], env=az.env, capture_output=True,
                                           text=True, timeout=600))
            assert result.rc == rc, result
        outputs.append((" ".join(args), result.out, result.err))
        collect_keys()
        return result

    net = ("-g", "rg1", "--appnet-name", "net-01")
    member = net + ("--member-name", "member-01")
    run("appnet", "create", *net, "-l", "westus2")
    run("appnet", "member", "join", *member, "--kubeconfig", sim.kubeconfig_path, "--context", sim.context)
    run("appnet", "member", "rotate-ca", *member)
    run("appnet", "member", "rotate-ca", *member, "--no-wait")           # a detached worker with a log
    run("appnet", "member", "wait", *member, "--updated", "--interval", "1", "--timeout", "120")
    run("appnet", "ca", "rotate", *net, "--no-wait")
    run("appnet", "ca", "wait", *net, "--updated", "--interval", "1", "--timeout", "120")
    run("appnet", "ca", "show", *net)
    sim.stop()
    failed = run("appnet", "ca", "finish-rotation", *net, "--yes", rc=1)           # an error naming the member
    assert "member-01" in failed.err and "Cannot reach" in failed.err
    sim.start()
    run("appnet", "ca", "finish-rotation", *net, "--yes")
    run("appnet", "member", "show", *member)
    run("appnet", "show", *net)

    # The scan finds what it looks for: every key was collected, and the needles match the key files.
    assert len([w for w in needles.binary.values() if "key file" in w]) >= 6, needles.binary.values()
    key_file = next(keys_dir.rglob("*.key.pem"))
    assert needles.find_in_bytes(key_file.read_bytes())

    leaks = []
    for command, out, err in outputs:
        for stream, text in (("stdout", out), ("stderr", err)):
            leaks += [f"{stream} of '{command}': {what}" for what in needles.find_in_text(text)]
    for row in _state_rows(az.state_path):
        leaks += [f"state row {row[:80]}...: {what}" for what in needles.find_in_text(row)]
    logs = list((config / "appnet" / "logs").glob("*.log"))
    assert logs, "the --no-wait commands left no worker log"
    scanned = 0
    for path in config.rglob("*"):
        if path.is_file() and keys_dir not in path.parents:
            scanned += 1
            leaks += [f"{path.relative_to(config)}: {what}" for what in needles.find_in_bytes(path.read_bytes())]
    assert scanned >= len(logs) + 1
    assert not leaks, "\n".join(sorted(set(leaks)))

    # --debug did say something: the scan covered real debug output.
    assert any("DEBUG" in err or "urllib3" in err for _, _, err in outputs)

    # Keys 0600 in 0700 directories; worker logs are private too.
    directories = [keys_dir] + [p for p in keys_dir.rglob("*") if p.is_dir()]
    for directory in directories:
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700, directory
    key_files = list(keys_dir.rglob("*.key.pem"))
    assert key_files
    for path in key_files:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert stat.S_IMODE(os.stat(config / "appnet" / "logs").st_mode) == 0o700
    for path in logs:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
