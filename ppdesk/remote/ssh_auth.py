"""Credentials for SshTransport: private key files, the SSH agent, passwords.

Secrets come from callbacks at connect time and live only in memory.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Callable, Optional

import paramiko
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .errors import ConnectionFailed
from .hostkeys import ConfirmHostKey

log = logging.getLogger(__name__)

# Called with the key file path; returns the passphrase, or None to give up.
AskPassphrase = Callable[[str], Optional[str]]
# Called with (user, host); returns the password, or None to give up.
AskPassword = Callable[[str, str], Optional[str]]

_SUPPORTED_KEYS = (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey)


@dataclass
class SshPrompts:
    """The questions a connection may need to ask the user.

    Each callback runs on the thread that connects; a GUI must marshal it to
    the GUI thread and block until the user replies. A missing callback counts as
    "no": no passphrase, no password, host key not accepted.
    """

    ask_passphrase: Optional[AskPassphrase] = None
    ask_password: Optional[AskPassword] = None
    confirm_host_key: Optional[ConfirmHostKey] = None


def load_private_key(path: str, ask_passphrase: Optional[AskPassphrase]) -> paramiko.PKey:
    """Load an ed25519, ECDSA or RSA private key, asking for its passphrase if encrypted.

    Raises ConnectionFailed with "key needs a passphrase: <file>", "wrong
    passphrase for <file>", "unsupported key type in <file>" or a message
    about an unreadable file.
    """
    path = os.path.expanduser(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConnectionFailed(f"cannot read key file {path}: {exc.strerror or exc}") from exc

    passphrase: Optional[bytes] = None
    try:
        loaded = _parse_private_key(data, None)
    except TypeError:
        answer = ask_passphrase(path) if ask_passphrase is not None else None
        if not answer:
            raise ConnectionFailed(f"key needs a passphrase: {path}") from None
        passphrase = answer.encode("utf-8")
        try:
            loaded = _parse_private_key(data, passphrase)
        except ValueError:
            raise ConnectionFailed(f"wrong passphrase for {path}") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConnectionFailed(
            f"unsupported key type in {path}: not an OpenSSH or PEM private key that ppdesk can read "
            f"(use an ed25519, ECDSA or RSA private key, not the .pub file)"
        ) from exc

    if not isinstance(loaded, _SUPPORTED_KEYS):
        raise ConnectionFailed(
            f"unsupported key type in {path}: {type(loaded).__name__} keys cannot be used; "
            f"use an ed25519, ECDSA or RSA key"
        )
    key = paramiko.PKey.from_path(path, passphrase)
    log.debug("loaded %s key from %s", key.get_name(), path)
    return key


def _parse_private_key(data: bytes, passphrase: Optional[bytes]) -> object:
    """Parse key bytes with cryptography; TypeError means encrypted, ValueError means bad data or passphrase."""
    if b"BEGIN OPENSSH PRIVATE KEY" in data:
        return serialization.load_ssh_private_key(data, passphrase)
    if b"PRIVATE KEY-----" in data:
        return serialization.load_pem_private_key(data, passphrase)
    raise ValueError("no private key block found")


def check_agent() -> int:
    """Return how many keys the SSH agent in ``SSH_AUTH_SOCK`` offers.

    Raises ConnectionFailed when no agent is reachable or it offers no key.
    """
    socket_path = os.environ.get("SSH_AUTH_SOCK")
    if not socket_path:
        raise ConnectionFailed(
            "no SSH agent found: SSH_AUTH_SOCK is not set; start ssh-agent and add your key "
            "with ssh-add, or choose key file authentication"
        )
    agent = paramiko.Agent()
    try:
        count = len(agent.get_keys())
    finally:
        agent.close()
    if count == 0:
        raise ConnectionFailed(f"the SSH agent at {socket_path} offers no keys (or is not running); add one with ssh-add")
    return count
