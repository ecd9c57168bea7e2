"""The real `az` (azure-cli from PyPI) with the extension installed from its wheel.

One install per test session into an isolated AZURE_EXTENSION_DIR; every test gets its own
AZURE_CONFIG_DIR, so its state file and keys start empty.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
AZ = pathlib.Path(sys.executable).parent / "az"


def _wheel(tmp):
    """The wheel in dist/ if it is newer than every source file, else a fresh build."""
    sources = [p for p in (ROOT / "azext_appnet").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    sources += [ROOT / "setup.py"]
    newest = max(p.stat().st_mtime for p in sources)
    for wheel in sorted((ROOT / "dist").glob("appnet-*-py3-none-any.whl")):
        if wheel.stat().st_mtime >= newest:
            return wheel
    # Every build directory is the session's own: test workers running in parallel may
    # each build at once, and must not share the checkout's build/ or egg-info.
    out = tmp / "dist"
    (tmp / "egg").mkdir()
    subprocess.run([sys.executable, "setup.py", "--quiet", "egg_info", "--egg-base", str(tmp / "egg"),
                    "build", "--build-base", str(tmp / "build"),
                    "bdist_wheel", "--bdist-dir", str(tmp / "bdist"), "--dist-dir", str(out)],
                   cwd=ROOT, check=True, capture_output=True)
    return next(out.glob("appnet-*-py3-none-any.whl"))


@pytest.fixture(scope="session")
def az_extension_dir(tmp_path_factory):
    if not AZ.exists():
        pytest.fail(f"azure-cli is not installed beside {sys.executable}; run scripts/setup.sh")
    tmp = tmp_path_factory.mktemp("az")
    ext_dir, cfg = tmp / "extensions", tmp / "config"
    env = dict(os.environ, AZURE_EXTENSION_DIR=str(ext_dir), AZURE_CONFIG_DIR=str(cfg),
               AZURE_CORE_COLLECT_TELEMETRY="no")
    wheel = _wheel(tmp)
    proc = subprocess.run([str(AZ), "extension", "add", "--source", str(wheel), "-y"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return ext_dir


class Result:
    def __init__(self, proc):
        self.rc, self.out, self.err = proc.returncode, proc.stdout, proc.stderr

    @property
    def json(self):
        return json.loads(self.out) if self.out.strip() else None

    def __repr__(self):
        return f"<az rc={self.rc}\nstdout={self.out[-2000:]}\nstderr={self.err[-3000:]}>"


class Az:
    def __init__(self, ext_dir, config_dir, extra_env=None):
        self.config_dir = config_dir
        self.env = dict(os.environ, AZURE_EXTENSION_DIR=str(ext_dir), AZURE_CONFIG_DIR=str(config_dir),
                        AZURE_CORE_COLLECT_TELEMETRY="no", AZURE_CORE_NO_COLOR="true",
                        **(extra_env or {}))
        for name in ("APPNET_STATE_PATH", "APPNET_STATE_URL", "APPNET_STATE_CONNECTION_STRING",
                     "APPNET_STATE_CONTAINER"):
            if name not in (extra_env or {}):
                self.env.pop(name, None)  # each test's state starts empty, wherever the developer's is

    def __call__(self, *args, rc=0, timeout=600, stdin=None, cwd=None):
        proc = subprocess.run([str(AZ), *map(str, args)], env=self.env, capture_output=True, text=True,
                              timeout=timeout, input=stdin, cwd=cwd)
        result = Result(proc)
        assert "Traceback" not in result.err, result
        if rc is not None:
            assert result.rc == rc, result
        return result

    @property
    def state_path(self):
        return pathlib.Path(self.config_dir) / "appnet" / "state.db"

    def stored_member(self, name="member-01"):
        """The member's record as stored (the local SQLite state), read behind az's back: what a
        command in flight has written so far. None when there is none."""
        import sqlite3
        with sqlite3.connect(self.state_path) as db:
            for (body,) in db.execute("SELECT body FROM resources"):
                doc = json.loads(body)
                if doc["name"] == name and "appLinkMembers" in doc["id"]:
                    return doc
        return None


@pytest.fixture
def az(az_extension_dir, tmp_path):
    return Az(az_extension_dir, tmp_path / "azure")
