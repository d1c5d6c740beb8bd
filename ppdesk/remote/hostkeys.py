"""SSH host key checking: known_hosts files, fingerprints and the accept prompt.

Two files are read: the user's OpenSSH ``~/.ssh/known_hosts`` (read-only,
hashed entries included) and ppdesk's own ``known_hosts`` in the user config
folder. Only ppdesk's own file is ever written. Keys are stored under the
name OpenSSH uses: ``host`` on port 22, ``[host]:port`` on any other port.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import paramiko

from .errors import HostKeyError

log = logging.getLogger(__name__)

KNOWN_HOSTS_NAME = "known_hosts"

# Called with the unknown key's details; True accepts and saves the key.
ConfirmHostKey = Callable[["HostKeyInfo"], bool]


def host_key_name(host: str, port: int) -> str:
    """Return the known_hosts name of a server: ``host`` or ``[host]:port``."""
    if port == 22:
        return host
    return f"[{host}]:{port}"


def sha256_fingerprint(key: paramiko.PKey) -> str:
    """Return the OpenSSH SHA256 fingerprint: ``SHA256:`` + unpadded base64 of the key blob's hash."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def default_user_known_hosts() -> Path:
    """Return OpenSSH's per-user known_hosts path (``~/.ssh/known_hosts``)."""
    return Path.home() / ".ssh" / KNOWN_HOSTS_NAME


def default_own_known_hosts() -> Path:
    """Return ppdesk's own known_hosts path in the per-user config folder."""
    from ppdesk.remote.profiles import default_config_dir

    return default_config_dir() / KNOWN_HOSTS_NAME


@dataclass(frozen=True)
class HostKeyInfo:
    """A server's host key as shown to the user before accepting it."""

    host: str
    port: int
    key_type: str
    fingerprint: str
    saved_to: str

    @property
    def name(self) -> str:
        return host_key_name(self.host, self.port)


@dataclass(frozen=True)
class StoredKey:
    """A known key and the known_hosts file it came from."""

    key: paramiko.PKey
    source: Path


class HostKeyChangedError(HostKeyError):
    """The server presented a key that differs from the stored one.

    ``stored`` and ``new_key`` let a caller offer a deliberate replacement
    through :meth:`HostKeyStore.replace_host_key`.
    """

    def __init__(self, message: str, host: str, port: int, stored: StoredKey, new_key: paramiko.PKey) -> None:
        super().__init__(message)
        self.host = host
        self.port = port
        self.stored = stored
        self.new_key = new_key


class HostKeyStore:
    """The known host keys of the user's OpenSSH file and of ppdesk's own file.

    When ppdesk's own file has an entry for a server, that entry wins over the
    OpenSSH file, so :meth:`replace_host_key` takes effect even though the
    OpenSSH file is never written. Not thread-safe; one connect at a time.
    """

    def __init__(self, own_path: Optional[Path] = None, user_path: Optional[Path] = None) -> None:
        self.own_path = Path(own_path) if own_path is not None else default_own_known_hosts()
        self.user_path = Path(user_path) if user_path is not None else default_user_known_hosts()

    def lookup(self, host: str, port: int) -> List[StoredKey]:
        """Return the stored keys for ``host:port``; an empty list when it is unknown."""
        name = host_key_name(host, port)
        for path in (self.own_path, self.user_path):
            entries = _read_known_hosts(path).lookup(name)
            if entries:
                return [StoredKey(key, path) for key in entries.values()]
        return []

    def add(self, host: str, port: int, key: paramiko.PKey) -> None:
        """Append ``key`` for ``host:port`` to ppdesk's own known_hosts file."""
        keys = _read_known_hosts(self.own_path)
        keys.add(host_key_name(host, port), key.get_name(), key)
        self._write(keys)
        log.info("saved host key %s %s for %s to %s", key.get_name(), sha256_fingerprint(key), host_key_name(host, port), self.own_path)

    def replace_host_key(self, host: str, port: int, new_key: paramiko.PKey) -> None:
        """Drop every key stored for ``host:port`` in ppdesk's own file and store ``new_key``.

        This is the deliberate action after a changed host key. An entry in
        the OpenSSH file stays as it is but no longer applies, because the own
        file's entry wins.
        """
        name = host_key_name(host, port)
        keys = _read_known_hosts(self.own_path)
        if name in keys:
            del keys[name]
        keys.add(name, new_key.get_name(), new_key)
        self._write(keys)
        log.warning("replaced host key for %s with %s %s", name, new_key.get_name(), sha256_fingerprint(new_key))

    def _write(self, keys: paramiko.HostKeys) -> None:
        self.own_path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.own_path.with_name(self.own_path.name + ".tmp")
        keys.save(str(temp))
        os.chmod(temp, 0o600)
        os.replace(temp, self.own_path)


def _read_known_hosts(path: Path) -> paramiko.HostKeys:
    keys = paramiko.HostKeys()
    if not path.is_file():
        return keys
    try:
        keys.load(str(path))
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("ignoring unreadable known_hosts file %s: %s", path, exc)
    return keys


class HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Checks a server key against a :class:`HostKeyStore` before authentication.

    paramiko calls :meth:`missing_host_key` for every connection because the
    SSH client gets no host keys of its own. A known matching key passes. An
    unknown key is shown to ``confirm`` and saved when accepted. A changed key
    raises :class:`HostKeyChangedError` and is never accepted here.
    """

    def __init__(self, store: HostKeyStore, host: str, port: int, confirm: Optional[ConfirmHostKey]) -> None:
        self.store = store
        self.host = host
        self.port = port
        self.confirm = confirm

    def preferred_key_types(self) -> List[str]:
        """Return the key types already stored for the server, for algorithm negotiation."""
        return [stored.key.get_name() for stored in self.store.lookup(self.host, self.port)]

    def missing_host_key(self, client: object, hostname: str, key: paramiko.PKey) -> None:
        stored = self.store.lookup(self.host, self.port)
        if not stored:
            self._ask_unknown(key)
            return
        match, other = _compare(stored, key)
        if match is not None:
            log.debug("host key of %s matches %s", host_key_name(self.host, self.port), match.source)
            return
        raise self._changed_error(other, key)

    def _ask_unknown(self, key: paramiko.PKey) -> None:
        info = HostKeyInfo(
            host=self.host,
            port=self.port,
            key_type=key.get_name(),
            fingerprint=sha256_fingerprint(key),
            saved_to=str(self.store.own_path),
        )
        if self.confirm is None or not self.confirm(info):
            raise HostKeyError(
                f"host key of {self.host}:{self.port} is unknown and was not accepted "
                f"({info.key_type} {info.fingerprint}); compare the fingerprint with the one "
                f"your pod provider shows, then connect again and accept it"
            )
        self.store.add(self.host, self.port, key)

    def _changed_error(self, stored: StoredKey, key: paramiko.PKey) -> HostKeyChangedError:
        name = host_key_name(self.host, self.port)
        message = (
            f"host key of {self.host}:{self.port} has changed: stored {stored.key.get_name()} "
            f"{sha256_fingerprint(stored.key)} in {stored.source}, server sent {key.get_name()} "
            f"{sha256_fingerprint(key)}. A recreated pod gets a new key, but so does a machine "
            f"that intercepts the connection. If you expect the change, remove the old entry "
            f"deliberately with: ssh-keygen -R '{name}' -f '{stored.source}' and connect again"
        )
        return HostKeyChangedError(message, self.host, self.port, stored, key)


def _compare(stored: List[StoredKey], key: paramiko.PKey) -> Tuple[Optional[StoredKey], StoredKey]:
    """Return (the stored key equal to ``key`` or None, the stored key to report otherwise)."""
    same_type = [entry for entry in stored if entry.key.get_name() == key.get_name()]
    for entry in same_type:
        if entry.key == key:
            return entry, entry
    return None, (same_type or stored)[0]
