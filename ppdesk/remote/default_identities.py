"""Logging in without a chosen key file, as OpenSSH's ssh does without -i.

ssh offers the SSH agent's keys first and then its default identity files
in ~/.ssh. :func:`login_with_default_identities` does the same for a
profile whose auth is "agent", so the ssh command a pod provider shows
works as pasted. A chosen key file (-i, or a profile's key_file) is the
only key offered; that login does not come here.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import List, Optional, Set, Tuple

import paramiko

from .errors import ConnectionFailed
from .ssh_auth import AskPassphrase, KeyFileError, KeyLoadError, load_private_key

log = logging.getLogger(__name__)

# OpenSSH 9.2's default IdentityFile list, in its order (ssh_config(5), IdentityFile).
DEFAULT_IDENTITY_NAMES = ("id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk", "id_dsa")
# Default files of key types that ppdesk cannot load: they are listed as skipped.
_UNSUPPORTED_IDENTITIES = {
    "id_ecdsa_sk": "a security key (FIDO) key, which ppdesk cannot use",
    "id_ed25519_sk": "a security key (FIDO) key, which ppdesk cannot use",
    "id_dsa": "a DSA key, which ppdesk cannot use",
}
# A public key line is far below this; a larger .pub file is not read.
_MAX_PUBLIC_KEY_BYTES = 64 * 1024


@dataclass
class _Attempts:
    """The keys and files that a login without a key file tried, for the message when it fails."""

    # The agent and its state, such as "the SSH agent (not available: SSH_AUTH_SOCK is not set)".
    agent: str = ""
    agent_keys: int = 0
    agent_keys_offered: int = 0
    # Whether the default key files were looked at, and one "<path> (<outcome>)" entry per file that exists.
    files_examined: bool = False
    files: List[str] = field(default_factory=list)
    # Keys sent to the server, from the agent and from files.
    offered: int = 0


def default_identity_folder() -> str:
    """Return the folder of the default identity files, ``~/.ssh`` of the user running ppdesk."""
    return os.path.join(os.path.expanduser("~"), ".ssh")


def default_identity_files() -> List[str]:
    """Return the paths of the default identity files that exist, in OpenSSH's order."""
    folder = default_identity_folder()
    paths = [os.path.join(folder, name) for name in DEFAULT_IDENTITY_NAMES]
    return [path for path in paths if os.path.lexists(path)]


def login_with_default_identities(
    transport: paramiko.Transport, user: str, host: str, ask_passphrase: Optional[AskPassphrase]
) -> Optional[paramiko.PKey]:
    """Log in as ``user`` with the SSH agent's keys, then with the default identity files that exist.

    Each file is loaded by :func:`load_private_key`, with its checks, and an
    encrypted one asks for its passphrase through ``ask_passphrase``. A file
    that cannot be loaded is listed and the next one is tried. A file whose
    key the agent also holds is not offered again. Returns the accepted key
    when it came from a file, so that a reconnect can offer it without asking
    for a passphrase again, and None when an agent key was accepted.

    Raises ConnectionFailed listing what was tried and what to do, starting
    with "authentication rejected for <user>@<host>" when the server
    rejected every key offered and with "no SSH key found" when there was
    none to offer. Raises paramiko.BadAuthenticationType when the server
    does not accept public keys, and paramiko's errors when the link fails.
    """
    login = f"{user}@{host}"
    tried = _Attempts()

    agent, agent_keys = _open_agent(tried)
    try:
        for key in agent_keys:
            tried.agent_keys_offered += 1
            if _offer(transport, user, key, tried):
                log.info("logged in to %s with a %s key from the SSH agent", login, key.get_name())
                return None
            if not transport.is_active():
                raise _failure(login, user, tried, closed=True)
    finally:
        if agent is not None:
            agent.close()
    agent_blobs = {key.asbytes() for key in agent_keys}

    tried.files_examined = True
    for path in default_identity_files():
        key = _load_identity(path, ask_passphrase, agent_blobs, tried)
        if key is None:
            continue
        if _offer(transport, user, key, tried):
            log.info("logged in to %s with the default key file %s", login, path)
            return key
        tried.files.append(f"{path} (rejected by the server)")
        if not transport.is_active():
            raise _failure(login, user, tried, closed=True)

    raise _failure(login, user, tried, closed=False)


def _open_agent(tried: _Attempts) -> Tuple[Optional[paramiko.Agent], Tuple[paramiko.AgentKey, ...]]:
    """Connect to the SSH agent and list its keys; note the agent's state in ``tried``."""
    socket_path = os.environ.get("SSH_AUTH_SOCK")
    where = f"the SSH agent at {socket_path}" if socket_path else "the SSH agent"
    if not socket_path and sys.platform != "win32":
        tried.agent = f"{where} (not available: SSH_AUTH_SOCK is not set)"
        return None, ()
    try:
        agent = paramiko.Agent()
    except paramiko.SSHException as exc:
        tried.agent = f"{where} (it did not list its keys: {exc})"
        return None, ()
    keys = agent.get_keys()
    tried.agent_keys = len(keys)
    if not keys:
        tried.agent = f"{where} (offers no keys, or is not running)"
        agent.close()
        return None, ()
    tried.agent = where
    log.debug("%s offers %d keys", where, len(keys))
    return agent, keys


def _load_identity(
    path: str, ask_passphrase: Optional[AskPassphrase], agent_blobs: Set[bytes], tried: _Attempts
) -> Optional[paramiko.PKey]:
    """Load one default identity file, or note in ``tried`` why it is not offered and return None.

    NOTE: OpenSSH asks the server whether it would accept a public key before
    it asks for that key's passphrase. paramiko 5.1 has no such query, so
    every encrypted default key asks for its passphrase, even one the server
    would reject.
    """
    reason = _UNSUPPORTED_IDENTITIES.get(os.path.basename(path))
    if reason is None and _public_key_blob(path) in agent_blobs:
        reason = "the same key as one in the SSH agent, offered there"
    if reason is not None:
        tried.files.append(f"{path} (skipped: {reason})")
        return None

    try:
        key = load_private_key(path, ask_passphrase)
    except KeyLoadError as exc:
        tried.files.append(f"{path} ({exc.reason})")
        return None
    except KeyFileError as exc:
        tried.files.append(f"{path} (not usable: {exc})")
        return None
    if key.asbytes() in agent_blobs:
        tried.files.append(f"{path} (skipped: the same key as one in the SSH agent, offered there)")
        return None
    return key


def _public_key_blob(path: str) -> Optional[bytes]:
    """Return the key blob of ``<path>.pub``, or None when that file is missing or not one public key line."""
    try:
        with open(f"{path}.pub", "rb") as handle:
            fields = handle.read(_MAX_PUBLIC_KEY_BYTES).split()
    except OSError:
        return None
    if len(fields) < 2:
        return None
    try:
        return base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError):
        return None


def _offer(transport: paramiko.Transport, user: str, key: paramiko.PKey, tried: _Attempts) -> bool:
    """Offer one key to the server; return False when the server rejected it."""
    tried.offered += 1
    try:
        transport.auth_publickey(user, key)
    except paramiko.BadAuthenticationType:
        raise
    except paramiko.AuthenticationException:
        log.debug("the server rejected a %s key for %s", key.get_name(), user)
        return False
    return True


def _failure(login: str, user: str, tried: _Attempts, closed: bool) -> ConnectionFailed:
    """Build the error that lists what was tried and what to do next."""
    summary = _agent_summary(tried)
    if tried.files_examined:
        summary += " and " + _files_summary(tried)

    if tried.offered == 0:
        return ConnectionFailed(
            f"no SSH key found to log in to {login}: tried {summary}; add your key to an SSH agent "
            f"with ssh-add, or choose key file authentication with your private key file"
        )
    if closed:
        return ConnectionFailed(
            f"authentication rejected for {login}: the server closed the connection after {tried.offered} "
            f"rejected keys, which is its limit (OpenSSH's MaxAuthTries); tried {summary}; choose key "
            f"file authentication with the key the pod accepts, so that only that key is offered"
        )
    return ConnectionFailed(
        f"authentication rejected for {login}: tried {summary}; check that the public key of one of "
        f"them is in ~/.ssh/authorized_keys of user {user!r} on the pod, or choose key file authentication "
        f"with the key the pod accepts"
    )


def _agent_summary(tried: _Attempts) -> str:
    if not tried.agent_keys:
        return tried.agent
    if tried.agent_keys_offered == tried.agent_keys:
        count = "1 key, rejected" if tried.agent_keys == 1 else f"{tried.agent_keys} keys, all rejected"
        return f"{tried.agent} ({count})"
    return f"{tried.agent} ({tried.agent_keys_offered} of {tried.agent_keys} keys offered, all rejected)"


def _files_summary(tried: _Attempts) -> str:
    if tried.files:
        return "the default key files " + ", ".join(tried.files)
    names = ", ".join(DEFAULT_IDENTITY_NAMES)
    return f"the default key files in {default_identity_folder()} (none of {names} exists)"
