"""The local key store: one directory per network under `<az config dir>/appnet/keys`.

Private keys are PKCS#8 PEM, encrypted with `APPNET_KEYSTORE_PASSPHRASE` when it is set.
Without it they are stored in clear, readable by their owner only (0600 in a 0700
directory), and a warning says so once per process.

Every file is written atomically (temp file, fsync, rename, fsync of the directory): a
crash or Ctrl-C leaves either the old content or the new one, never a truncated key.
"""

import logging
import os
import shutil
import stat
import tempfile
import time

from ..errors import KeyStoreError
from ..processes import pid_alive, secret_env
from .signers import LocalSigner, generate_private_key, key_type_of

logger = logging.getLogger("azext_appnet.pki")

PASSPHRASE_ENV = "APPNET_KEYSTORE_PASSPHRASE"
_TEMP_SUFFIX = ".tmp"
_STALE_TEMP_SECONDS = 600

_warned_unencrypted = False


def _passphrase():
    value = secret_env(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


def atomic_write(path, data, mode=0o600):
    """Replace `path` with `data` so that readers see the old or the new file, never a mix."""
    directory, base = os.path.split(path)
    # The pid in the name lets a later run tell a killed writer's file from a live one's.
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.{os.getpid()}-", suffix=_TEMP_SUFFIX, dir=directory)
    try:
        if hasattr(os, "fchmod"):  # POSIX; mkstemp already creates 0600, say it explicitly
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def _fsync_dir(directory):
    # The rename is only durable once the directory entry is on disk.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform (Windows)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_private_dir(path):
    """Refuse a key directory that is a symlink or belongs to someone else: whoever controls
    it could read the keys written there, or plant keys of their own."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise KeyStoreError(f"Cannot inspect key store directory {path}: {exc.strerror}.",
                            recommendation="Check that it is readable by the user running az.") from None
    if stat.S_ISLNK(info.st_mode):
        raise KeyStoreError(
            f"The key store directory {path} is a symbolic link; appnet keeps CA keys only in a real "
            "directory of its own.",
            recommendation="Replace the link by the directory it points to (move it into place), "
            "after checking who can write there.")
    if not stat.S_ISDIR(info.st_mode):
        raise KeyStoreError(f"The key store path {path} is not a directory.",
                            recommendation="Move that file away.")
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise KeyStoreError(
            f"The key store directory {path} belongs to another user (uid {info.st_uid}); appnet keeps "
            "CA keys only in a directory owned by the user running az.",
            recommendation=f"Run az as its owner, or give it to this user ('chown -R {os.geteuid()} "
            f"{path}') after checking its content.")
    return True


def _make_private_dir(path):
    if not _check_private_dir(path):
        os.makedirs(path, mode=0o700, exist_ok=True)
        _check_private_dir(path)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        # makedirs honours the umask and leaves an existing directory alone; a key
        # directory readable by others is a leak, so tighten it rather than trust it.
        os.chmod(path, 0o700)
        logger.warning("Restricted permissions of key store directory %s to 0700 (were %o).", path, mode)


class LocalKeyStore:
    """Keys and public objects of one network, as files in one directory."""

    location = "local"

    def __init__(self, keys_dir, dirname, label):
        self.keys_dir = keys_dir
        self.directory = os.path.join(keys_dir, dirname)
        self._dirname = dirname
        self._label = label
        self._swept = False

    def __repr__(self):
        return f"LocalKeyStore({self.directory!r})"

    # -- directory ------------------------------------------------------------------------

    def _ensure_dir(self):
        _make_private_dir(self.keys_dir)
        _make_private_dir(self.directory)
        self._remove_stale_temp_files()

    def _check_dirs(self):
        """Before reading: the same ownership and no-symlink rules as for writing; what a
        killed writer left is removed on the way."""
        _check_private_dir(self.keys_dir)
        if _check_private_dir(self.directory) and not self._swept:
            self._remove_stale_temp_files()

    def _remove_stale_temp_files(self):
        # A process killed mid-write leaves its temp file behind (possibly holding a key).
        # A file whose writer (named by the pid in its name) is gone goes now; one without a
        # pid (an older appnet) once it is old, so a writer running right now is not disturbed.
        self._swept = True
        cutoff = time.time() - _STALE_TEMP_SECONDS
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return
        for entry in entries:
            if not (entry.name.startswith(".") and entry.name.endswith(_TEMP_SUFFIX)):
                continue
            pid = _writer_pid(entry.name)
            try:
                if (pid is not None and not pid_alive(pid)) or (pid is None and entry.stat().st_mtime < cutoff):
                    os.unlink(entry.path)
            except OSError:
                pass

    def _path(self, name):
        if os.sep in name or name.startswith("."):
            raise ValueError(f"bad object name {name!r}")
        return os.path.join(self.directory, name)

    # -- public objects (manifest, certificates) -------------------------------------------

    def read_text(self, name):
        self._check_dirs()
        try:
            with open(self._path(name), encoding="utf-8") as handle:
                return handle.read(64 * 1024 * 1024)
        except FileNotFoundError:
            return None
        except (UnicodeDecodeError, ValueError):
            raise KeyStoreError(
                f"{self._path(name)} of the key store of network {self._label} is damaged (not UTF-8 text).",
                recommendation="Restore the key store from a backup.") from None
        except OSError as exc:
            raise KeyStoreError(
                f"Cannot read {self._path(name)} of the key store of network {self._label}: {exc.strerror}.",
                recommendation="Check that the file is readable by the user running az.",
            ) from None

    def write_text(self, name, text):
        self._ensure_dir()
        self._write(self._path(name), text.encode("utf-8"))

    def delete_text(self, name):
        self._unlink(self._path(name))

    # -- private keys ---------------------------------------------------------------------

    def private_key_id(self, name):
        return f"local:{self._dirname}/{name}.key.pem"

    def save_private_key(self, name, key):
        from cryptography.hazmat.primitives import serialization

        passphrase = _passphrase()
        if passphrase:
            encryption = serialization.BestAvailableEncryption(passphrase)
        else:
            encryption = serialization.NoEncryption()
            _warn_unencrypted(self.keys_dir)
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        self._ensure_dir()
        self._write(self._path(f"{name}.key.pem"), data)

    def load_private_key(self, name):
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization

        path = self._path(f"{name}.key.pem")
        self._check_dirs()
        try:
            with open(os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise KeyStoreError(
                f"The CA key {name} of network {self._label} is missing from {self.directory}.",
                recommendation="Run the command on the machine that created the network, restore the key "
                "store directory, or create networks with --key-vault so that keys are shared.",
            ) from None
        except OSError as exc:     # a directory or a symbolic link in its place, unreadable
            raise KeyStoreError(
                f"The CA key file {path} of network {self._label} cannot be read: "
                f"{exc.strerror or type(exc).__name__}.",
                recommendation="Restore it from a backup; appnet reads keys only from regular files "
                "owned by the user running az.") from None
        encrypted = b"ENCRYPTED PRIVATE KEY" in data
        passphrase = _passphrase()
        if encrypted and not passphrase:
            raise KeyStoreError(
                f"The CA key {name} of network {self._label} is encrypted and {PASSPHRASE_ENV} is not set.",
                recommendation=f"Set {PASSPHRASE_ENV} to the passphrase the key store was created with.",
            )
        try:
            # A key written before a passphrase was set is still clear text: read it as such.
            key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            if encrypted:
                raise KeyStoreError(
                    f"Cannot decrypt the CA key {name} of network {self._label}: the passphrase in "
                    f"{PASSPHRASE_ENV} is wrong.",
                    recommendation=f"Set {PASSPHRASE_ENV} to the passphrase the key store was created with.",
                ) from None
            raise KeyStoreError(
                f"The CA key file {path} is damaged (not a PEM private key).",
                recommendation="Restore it from a backup, or rotate the CA.",
            ) from None
        if passphrase and not encrypted:
            self._encrypt_clear_keys()
        return key

    def _encrypt_clear_keys(self):
        """APPNET_KEYSTORE_PASSPHRASE was set after keys were stored in clear: encrypt every
        clear key of this network in place (atomically), and say so."""
        from cryptography.hazmat.primitives import serialization

        done = []
        for entry in sorted(os.scandir(self.directory), key=lambda e: e.name):
            if not entry.name.endswith(".key.pem") or entry.name.startswith(".") or \
                    not entry.is_file(follow_symlinks=False):
                continue
            with open(entry.path, "rb") as handle:
                data = handle.read()
            if b"ENCRYPTED PRIVATE KEY" in data:
                continue
            try:
                key = serialization.load_pem_private_key(data, password=None)
            except ValueError:
                continue  # damaged: reported when it is loaded
            self.save_private_key(entry.name[:-len(".key.pem")], key)
            done.append(entry.name)
        if done:
            logger.warning("Encrypted %d CA key(s) of network %s that were stored in clear text before %s "
                           "was set (%s): keep that passphrase, every later command needs it.",
                           len(done), self._label, PASSPHRASE_ENV, ", ".join(done))

    def has_private_key(self, name):
        return os.path.isfile(self._path(f"{name}.key.pem"))

    def delete_private_key(self, name):
        self._unlink(self._path(f"{name}.key.pem"))

    # -- root keys (here simply private keys wrapped in a signer) ---------------------------

    def new_root_signer(self, name, key_type):
        key = generate_private_key(key_type)
        self.save_private_key(name, key)
        return LocalSigner(key, key_type, self.private_key_id(name))

    def root_signer(self, name):
        key = self.load_private_key(name)
        return LocalSigner(key, key_type_of(key.public_key()), self.private_key_id(name))

    def delete_root_key(self, name):
        self.delete_private_key(name)

    def destroy(self):
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- helpers --------------------------------------------------------------------------

    def _write(self, path, data):
        try:
            atomic_write(path, data)
        except OSError as exc:
            raise KeyStoreError(
                f"Cannot write {path} in the key store of network {self._label}: {exc.strerror}.",
                recommendation="Check free disk space and that the directory is writable by the user running az.",
            ) from None

    def _unlink(self, path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _writer_pid(name):
    """The pid in a temp file name `.<base>.<pid>-<random>.tmp`, or None."""
    head = name[:-len(_TEMP_SUFFIX)].rsplit(".", 1)[-1]
    pid, sep, _ = head.partition("-")
    return int(pid) if sep and pid.isdigit() else None


def _warn_unencrypted(keys_dir):
    global _warned_unencrypted  # pylint: disable=global-statement  # once per process
    if not _warned_unencrypted:
        _warned_unencrypted = True
        logger.warning(
            "CA private keys are stored unencrypted under %s (readable only by you). "
            "Set %s to encrypt them, or use --key-vault to keep the root key in Azure Key Vault.",
            keys_dir, PASSPHRASE_ENV,
        )
