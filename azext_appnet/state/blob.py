"""The shared state store in Azure Blob Storage, for teams and CI on throw-away machines.

Same interface and semantics as `SqliteStore` (see sqlite.py), the model of Terraform's
azurerm backend:

* one block blob per resource, `<prefix>resources/<lower-cased resource id>`, its JSON body
  the document; kind, subscription, resource group and parent in the blob's metadata, so a
  list reads one listing (narrowed by name prefix) plus the matching bodies;
* the blob's ETag is the resource's `_version` (an opaque string here, an integer in
  SQLite: the engine only passes it back). create writes with If-None-Match: *, update and
  delete with If-Match: <ETag>, so a write based on a stale read fails with StaleWriteError;
* `lock(name)` (base.LeaseLocks, the same lock as SQLite's) is a blob lease on
  `<prefix>locks/<sha256(name)>`, taken under the holder's random lease id. The lease is
  INFINITE; the holder record and its expiry are in the lock blob's metadata, written with
  the lease id, as Terraform does, and pushed forward by the holder's heartbeat. Whoever
  finds the expiry past, or the holder known dead (processes.identity_alive), breaks the
  lease and takes it over. Breaking and acquiring are conditional on the ETag the taker
  read, and a lock counts as held only once its holder's record is written with its lease
  id, so two takers never both hold it. Metadata expiry rather than the service's 15-60 s
  leases: the same `ttl` semantics as SQLite, for any ttl.

Credentials: a TokenCredential (the az login) for APPNET_STATE_URL, or a connection string
read from the environment, which never reaches argv, logs, errors or state.
"""

import contextlib
import hashlib
import json
import time
import uuid
from urllib.parse import quote, unquote, urlsplit

from .. import redact
from ..errors import StateError
from ..model import ids
from . import validate
from .base import LeaseLocks, StaleWriteError, clean as _clean, decode_holder, may_take_over

_SCHEMA_VERSION = "1"
_MARKER = "appnet-state.json"
#: Fail fast on an unreachable account: a few quick retries instead of the SDK's minutes.
CLIENT_OPTIONS = {"retry_total": 3, "initial_backoff": 1, "increment_base": 2,
                  "random_jitter_range": 1, "connection_timeout": 20, "read_timeout": 60}
_BLOB_HOST_SUFFIXES = (".blob.core.windows.net", ".blob.core.chinacloudapi.cn",
                       ".blob.core.usgovcloudapi.net")


def _sdk():
    """azure-storage-blob (track 2), which azure-cli itself requires (2.91 pins 12.29);
    imported only when a blob store is opened."""
    from azure.core import MatchConditions
    from azure.core import exceptions
    try:
        from azure.storage.blob import BlobLeaseClient, ContainerClient, ContentSettings
    except ImportError:
        raise StateError("The shared state store needs azure-storage-blob, which this az "
                         "installation lacks.",
                         "Update the Azure CLI ('az upgrade'); it ships azure-storage-blob.") from None
    return MatchConditions, exceptions, BlobLeaseClient, ContainerClient, ContentSettings


def parse_url(url):
    """(account URL, container, prefix) of https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX];
    an http(s)://HOST:PORT/ACCOUNT/CONTAINER[/PREFIX] URL (an emulator) is path-style."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise StateError(f"APPNET_STATE_URL '{url}' is not a Blob Storage URL.",
                         "Set it to https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX].")
    if parts.query or "@" in parts.netloc:
        raise StateError("APPNET_STATE_URL must not carry a SAS token or any other secret: it is "
                         "passed to --no-wait workers on their command line.",
                         "Drop the query string; sign in with 'az login', or put a SAS or key in "
                         "APPNET_STATE_CONNECTION_STRING (with APPNET_STATE_CONTAINER) instead.")
    segments = [s for s in parts.path.split("/") if s]
    host = parts.hostname or ""
    account_url = f"{parts.scheme}://{parts.netloc}"
    if not host.endswith(_BLOB_HOST_SUFFIXES) and segments and (
            host in ("localhost", "127.0.0.1", "::1") or host.replace(".", "").isdigit()):
        account_url += "/" + segments.pop(0)
    if not segments:
        raise StateError(f"APPNET_STATE_URL '{url}' names no container.",
                         "Set it to https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX].")
    return account_url, segments[0], "/".join(segments[1:])


class BlobStore(LeaseLocks):  # pylint: disable=too-many-instance-attributes  # one container's clients
    """Resources as JSON blobs in one container (under an optional name prefix)."""

    def __init__(self, container, prefix="", account_url=None, credential=None,
                 connection_string=None, connection_string_env=None, description=None):
        (self._match, self._exc, self._lease_client_cls, container_cls,
         self._content_settings) = _sdk()
        self.where = description or f"container '{container}'"
        self._via_env = connection_string_env
        # From the first request on, HTTP log lines (--debug) lose their query strings (SAS).
        redact.blob_store_opened()
        self._prefix = (prefix.strip("/") + "/") if prefix.strip("/") else ""
        try:
            if connection_string is not None:
                self._container = container_cls.from_connection_string(
                    connection_string, container, **CLIENT_OPTIONS)
            else:
                self._container = container_cls(account_url, container, credential=credential,
                                                **CLIENT_OPTIONS)
        except ValueError:
            if connection_string is None:  # the SDK sends tokens over https only
                raise StateError(f"The state store URL {account_url} is not https.",
                                 "Use https://ACCOUNT.blob.core.windows.net/CONTAINER, or an "
                                 "emulator through APPNET_STATE_CONNECTION_STRING.") from None
            raise StateError(f"${connection_string_env} is not a valid Blob Storage connection string.",
                             "Copy it again from the storage account's 'Access keys' "
                             "(or 'az storage account show-connection-string').") from None
        self._lock_scope = f"blob:{self._container.url}/{self._prefix}"
        if connection_string is not None and description is None:
            self.where = (f"container '{container}' of account '{self._container.account_name}' "
                          f"(${connection_string_env})")
        self._check()

    # ---- errors -------------------------------------------------------------------------

    def _fix_access(self):
        if self._via_env:
            return (f"Check the account key or SAS in ${self._via_env} (and that the SAS allows "
                    "read, write, delete, list and create, and has not expired).")
        return ("Sign in with 'az login' as an identity that has the 'Storage Blob Data "
                "Contributor' role on the account or container ('az role assignment create "
                "--role \"Storage Blob Data Contributor\" --assignee <you> --scope <container id>').")

    def _error(self, ex):
        """A StateError for any failure to talk to the store: never the SDK's text, which may
        quote request details; its error code and status only."""
        exc = self._exc
        if isinstance(ex, exc.ClientAuthenticationError) and getattr(ex, "status_code", None) is None:
            return StateError(f"Could not get a token for the state store at {self.where}.",
                              "Sign in with 'az login' (or use APPNET_STATE_CONNECTION_STRING).")
        if isinstance(ex, (exc.ServiceRequestError, exc.ServiceResponseError)):
            return StateError(f"Cannot reach the state store at {self.where} ({type(ex).__name__}).",
                              "Check the account name and that this machine can reach the "
                              "account's blob endpoint (DNS, proxy, storage firewall).")
        code = getattr(ex, "error_code", None) or getattr(ex, "reason", None) or type(ex).__name__
        status = getattr(ex, "status_code", None)
        if status in (401, 403):
            return StateError(f"The state store at {self.where} refused access ({status} {code}).",
                              self._fix_access())
        return StateError(f"The state store at {self.where} failed ({status or ''} {code}).".replace("( ", "("),
                          "Run the command again; if it keeps failing, check the storage account.")

    @contextlib.contextmanager
    def _calls(self):
        try:
            yield
        except self._exc.AzureError as ex:  # ours (StateError, StaleWriteError, ...) pass as they are
            raise self._error(ex) from None

    # ---- set-up -------------------------------------------------------------------------

    def _check(self):
        """One request on open: the marker blob proves the store is reachable, we may read it,
        and that it holds this schema. A missing container is created when permitted."""
        exc = self._exc
        marker = self._container.get_blob_client(self._prefix + _MARKER)
        with self._calls():
            try:
                doc = json.loads(marker.download_blob().readall())
                if not isinstance(doc, dict):
                    raise ValueError("not an object")
            except exc.ResourceNotFoundError as ex:
                if getattr(ex, "error_code", None) == "ContainerNotFound":
                    self._create_container()
                try:
                    marker.upload_blob(json.dumps({"schema": _SCHEMA_VERSION}).encode(), overwrite=False)
                except exc.ResourceExistsError:
                    pass
                return
            except ValueError:
                raise StateError(f"{_MARKER} in {self.where} is not a readable appnet state marker.",
                                 "Point the store at another container or prefix, or delete "
                                 "that blob if it is not from appnet.") from None
        if str(doc.get("schema")) != _SCHEMA_VERSION:
            raise StateError(
                f"The state store at {self.where} has schema version {doc.get('schema')}; this "
                f"version of the extension reads version {_SCHEMA_VERSION}.",
                "Update the appnet extension: 'az extension update --name appnet'.")

    def _create_container(self):
        exc = self._exc
        try:
            self._container.create_container()
        except exc.ResourceExistsError:
            pass
        except exc.HttpResponseError as ex:
            if getattr(ex, "status_code", None) in (401, 403):
                raise StateError(
                    f"The container of the state store at {self.where} does not exist, and this "
                    f"identity may not create it ({ex.status_code} {ex.error_code}).",
                    "Create it ('az storage container create --name CONTAINER --account-name "
                    "ACCOUNT --auth-mode login'), or use an identity allowed to.") from None
            raise

    # ---- resources ----------------------------------------------------------------------

    def _name(self, resource_id):
        return self._prefix + "resources" + ids.key(resource_id)

    def _decode(self, name, data, etag):
        key = name[len(self._prefix + "resources"):]
        body = validate.decode(data, self.where, key if key.startswith("/") else name)
        body["_version"] = etag
        return body

    def _read(self, name):
        try:
            downloader = self._container.get_blob_client(name).download_blob()
            data = downloader.readall()
        except self._exc.ResourceNotFoundError:
            return None
        return self._decode(name, data, downloader.properties.etag)

    def get(self, resource_id):
        """The resource with its `_version` (the blob's ETag), or None."""
        with self._calls():
            return self._read(self._name(resource_id))

    def list(self, kind, subscription=None, resource_group=None, parent_id=None):
        start = self._prefix + "resources/"
        if parent_id:
            start = self._name(parent_id) + "/"
        elif subscription:
            start += "subscriptions/" + subscription.lower() + "/"
            if resource_group:
                start += "resourcegroups/" + resource_group.lower() + "/"
        wanted = {"kind": kind, "subscription": subscription and subscription.lower(),
                  "resourcegroup": resource_group and resource_group.lower(),
                  "parent": parent_id and ids.key(parent_id)}
        out = []
        with self._calls():
            for item in self._container.list_blobs(name_starts_with=start, include=["metadata"]):
                meta = {k.lower(): unquote(v) for k, v in (item.metadata or {}).items()}
                if all(v is None or meta.get(k) == v for k, v in wanted.items()):
                    doc = self._read(item.name)
                    if doc is not None:  # deleted since the listing
                        out.append(doc)
        return out

    @staticmethod
    def _metadata(resource_id, kind, parent_id):
        parts = ids.parse_id(resource_id)
        meta = {"kind": kind, "subscription": parts["subscription"].lower(),
                "resourcegroup": parts["resource_group"].lower()}
        if parent_id:
            meta["parent"] = ids.key(parent_id)
        return {k: quote(v, safe="/:.-_~") for k, v in meta.items()}

    def _put(self, name, body, metadata, **conditions):
        blob = self._container.get_blob_client(name)
        return blob.upload_blob(json.dumps(body).encode(), metadata=metadata,
                                content_settings=self._content_settings(content_type="application/json"),
                                **conditions)

    def create(self, resource, kind, parent_id=None):
        """Insert a new resource (If-None-Match: *); StaleWriteError if it exists."""
        body = _clean(resource)
        with self._calls():
            try:
                result = self._put(self._name(resource["id"]), body,
                                   self._metadata(resource["id"], kind, parent_id), overwrite=False)
            except self._exc.ResourceExistsError:
                raise StaleWriteError(f"{resource['id']} already exists.") from None
        body["_version"] = result["etag"]
        return body

    def update(self, resource):
        """Replace a resource read earlier (If-Match: its ETag); StaleWriteError if it changed."""
        expected = resource.get("_version")
        body = _clean(resource)
        name = self._name(resource["id"])
        stale = StaleWriteError(f"{resource['id']} was changed by another command while this one ran.",
                                "Run the command again.")
        if not isinstance(expected, str):
            raise stale
        with self._calls():
            blob = self._container.get_blob_client(name)
            try:
                # Metadata is rewritten with the body: keep what create recorded.
                props = blob.get_blob_properties(etag=expected, match_condition=self._match.IfNotModified)
                result = self._put(name, body, props.metadata, overwrite=True, etag=expected,
                                   match_condition=self._match.IfNotModified)
            except (self._exc.ResourceModifiedError, self._exc.ResourceNotFoundError):
                raise stale from None
            except self._exc.HttpResponseError as ex:
                if ex.status_code == 412:
                    raise stale from None
                raise
        body["_version"] = result["etag"]
        return body

    def delete(self, resource_id, expected_version=None):
        conditions = {}
        if expected_version is not None:
            conditions = {"etag": expected_version, "match_condition": self._match.IfNotModified}
        with self._calls():
            try:
                self._container.get_blob_client(self._name(resource_id)).delete_blob(**conditions)
            except (self._exc.ResourceNotFoundError, self._exc.ResourceModifiedError):
                return False
            except self._exc.HttpResponseError as ex:
                if ex.status_code == 412:
                    return False
                raise
        return True

    # ---- locks --------------------------------------------------------------------------

    # The contract's primitives (base.LeaseLocks). The lock blob carries a blob lease taken
    # under the holder's own lease id; its metadata names the holder and the expiry that the
    # heartbeat pushes forward.

    def _lock_blob(self, name):
        return self._container.get_blob_client(
            self._prefix + "locks/" + hashlib.sha256(name.encode()).hexdigest())

    @staticmethod
    def _lease_id(holder):
        return str(uuid.UUID(hex=decode_holder(holder)["lease"]))

    def _lock_try(self, name, holder, ttl):
        exc, match = self._exc, self._match
        blob = self._lock_blob(name)
        with self._calls():
            try:
                props = blob.get_blob_properties()
            except exc.ResourceNotFoundError:  # first use of this lock: create its blob
                try:
                    blob.upload_blob(b"", metadata={"lockname": quote(name, safe="")}, overwrite=False)
                except exc.ResourceExistsError:
                    pass
                props = blob.get_blob_properties()
            meta = props.metadata or {}
            other = unquote(meta.get("holder", "")) or "unknown"
            conditional = {"etag": props.etag, "match_condition": match.IfNotModified}
            if props.lease.state == "leased":
                if not may_take_over(other, float(meta.get("expires") or 0)):
                    return other
                try:  # take over: only if nobody changed the lock since we looked
                    self._lease_client_cls(blob).break_lease(0, **conditional)
                except exc.HttpResponseError as ex:
                    if ex.status_code in (409, 412):
                        return other
                    raise
            lease = self._lease_client_cls(blob, lease_id=self._lease_id(holder))
            try:
                lease.acquire(-1, **conditional)
            except exc.HttpResponseError as ex:
                if ex.status_code in (409, 412):  # another taker was first
                    return other
                raise
            # Held only once our record is on it: a taker that broke the lease in between
            # makes this write fail, and we try again.
            if not self._write_lock_record(blob, name, holder, ttl):
                return other
        return None

    def _write_lock_record(self, blob, name, holder, ttl):
        try:
            blob.set_blob_metadata({"lockname": quote(name, safe=""), "holder": quote(holder, safe=""),
                                    "expires": repr(time.time() + ttl)}, lease=self._lease_id(holder))
            return True
        except self._exc.HttpResponseError as ex:
            if ex.status_code in (409, 412):
                return False
            raise

    def _lock_renew(self, name, holder, ttl):
        with self._calls():
            return self._write_lock_record(self._lock_blob(name), name, holder, ttl)

    def _lock_release(self, name, holder):
        blob = self._lock_blob(name)
        lease = self._lease_client_cls(blob, lease_id=self._lease_id(holder))
        try:
            blob.set_blob_metadata({"lockname": quote(name, safe=""), "holder": "", "expires": "0"},
                                   lease=lease)
            lease.release()
        except self._exc.AzureError:
            pass  # taken over after our lease ran out, or the store is gone: nothing to release

    def close(self):
        self._container.close()
        redact.blob_store_closed()
