"""scripts/try-on-kind.sh where it cannot run: it says why, exits 0 and claims nothing.
(Where kind and Docker exist it creates real clusters; that path is not run here.)"""

import os
import subprocess

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SCRIPT = os.path.join(ROOT, "scripts", "try-on-kind.sh")


def _fake(bin_dir, name, body):
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def _run(bin_dir):
    # Only the fakes and the shell's basics: no real kind, docker or kubectl is reached.
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(bin_dir)}
    return subprocess.run(["bash", SCRIPT], capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def bin_dir(tmp_path):
    d = tmp_path / "bin"
    d.mkdir()
    return d


def _assert_claims_nothing(done, reason):
    assert done.returncode == 0, done.stderr
    assert reason in done.stderr
    assert "nothing was created and nothing was checked" in done.stderr
    assert "PASSED" not in done.stdout + done.stderr and done.stdout == ""


def test_without_kind_it_says_so_and_exits_0(bin_dir):
    if any(os.path.exists(os.path.join(p, "kind")) for p in ("/usr/bin", "/bin")):
        pytest.skip("a real kind is installed in /usr/bin")
    _fake(bin_dir, "docker", "exit 0")
    _fake(bin_dir, "kubectl", "exit 0")
    _assert_claims_nothing(_run(bin_dir), "kind not found on PATH")


def test_with_docker_but_no_engine_it_says_so_and_exits_0(bin_dir):
    _fake(bin_dir, "kind", 'echo "kind called: $*" >&2; exit 1')
    _fake(bin_dir, "docker", '[ "$1" = info ] && { echo "Cannot connect to the Docker daemon" >&2; exit 1; }; exit 1')
    _fake(bin_dir, "kubectl", "exit 0")
    done = _run(bin_dir)
    _assert_claims_nothing(done, "no running engine")
    assert "kind called" not in done.stderr   # no cluster was asked for
