"""Credentials for SshTransport: private key files, the SSH agent, passwords.

Secrets come from callbacks at connect time and live only in memory.
"""

from __future__ import annotations

import logging
import os
import stat
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

# An RSA private key of 16384 bits, ssh-keygen's maximum, takes 12.7 KB in
# OpenSSH's format (OpenSSH 9), so a larger file was chosen by mistake.
MAX_KEY_FILE_BYTES = 1024 * 1024
# Leading bytes of public key files in OpenSSH's one-line format, RFC 4716 and PEM.
_PUBLIC_KEY_STARTS = (
    b"ssh-",
    b"ecdsa-sha2-",
    b"sk-ssh-",
    b"sk-ecdsa-",
    b"---- BEGIN SSH2 PUBLIC KEY",
    b"-----BEGIN PUBLIC KEY",
    b"-----BEGIN RSA PUBLIC KEY",
)
_PUTTY_KEY_START = b"PuTTY-User-Key-File-"


class KeyFileError(ConnectionFailed, ValueError):
    """The key file named for key authentication cannot be a usable private key.

    It is a ConnectionFailed for code that connects, and a ValueError for
    code that checks user input, such as the command line and the profile form.
    ``suggestion`` is a private key file that the message proposes instead,
    when one was found next to the named path, else None.
    """

    def __init__(self, message: str, suggestion: Optional[str] = None) -> None:
        super().__init__(message)
        self.suggestion = suggestion


class KeyLoadError(ConnectionFailed):
    """A private key file passed :func:`check_key_file` but could not be loaded.

    ``reason`` is the message without the file name, such as "wrong
    passphrase", for messages that list several key files.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


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

    Raises KeyFileError as :func:`check_key_file` does, and KeyLoadError
    with "key needs a passphrase: <file>", "wrong passphrase for <file>",
    "unsupported key type in <file>" or "cannot read key file <file>".
    """
    path = check_key_file(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_KEY_FILE_BYTES)
    except OSError as exc:
        reason = f"cannot be read: {exc.strerror or exc}"
        raise KeyLoadError(f"cannot read key file {path}: {exc.strerror or exc}", reason) from exc

    passphrase: Optional[bytes] = None
    try:
        loaded = _parse_private_key(data, None)
    except TypeError:
        answer = ask_passphrase(path) if ask_passphrase is not None else None
        if not answer:
            raise KeyLoadError(f"key needs a passphrase: {path}", "needs a passphrase, none was entered") from None
        passphrase = answer.encode("utf-8")
        try:
            loaded = _parse_private_key(data, passphrase)
        except ValueError:
            raise KeyLoadError(f"wrong passphrase for {path}", "wrong passphrase") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyLoadError(
            f"unsupported key type in {path}: not an OpenSSH or PEM private key that ppdesk can read "
            f"(use an ed25519, ECDSA or RSA private key, not the .pub file)",
            "not an OpenSSH or PEM private key that ppdesk can read",
        ) from exc

    if not isinstance(loaded, _SUPPORTED_KEYS):
        raise KeyLoadError(
            f"unsupported key type in {path}: {type(loaded).__name__} keys cannot be used; "
            f"use an ed25519, ECDSA or RSA key",
            f"unsupported key type ({type(loaded).__name__})",
        )
    key = paramiko.PKey.from_path(path, passphrase)
    log.debug("loaded %s key from %s", key.get_name(), path)
    return key


def check_key_file(path: Optional[str]) -> str:
    """Check that ``path`` names a readable private key file and return it with ``~`` expanded.

    The command line and the connection dialog call it before connecting,
    so a wrong path fails at once rather than after the login started. Raises KeyFileError naming the path and what to
    choose instead when the path is empty or missing, a folder or another
    non-regular file, unreadable, empty, over MAX_KEY_FILE_BYTES, a public
    key, a PuTTY key, or has no private key block. The file is read, but no
    part of it is put in a message or the log. Whether the key is encrypted
    or of a supported type is found out only when it is loaded.
    """
    if not path or not path.strip():
        raise KeyFileError("no key file given: choose the private key file, for example ~/.ssh/id_ed25519")
    path = os.path.expanduser(path)

    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise KeyFileError(f"key file not found: {path}; check the path, or choose another private key file") from None
    except PermissionError:
        raise KeyFileError(
            f"cannot read key file {path}: permission denied on a folder in its path; "
            f"move the key to a folder you can read, or run ppdesk as the key's owner"
        ) from None
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        candidate = _private_key_in_folder(path)
        if candidate is None:
            raise KeyFileError(
                f"{path} is a folder, not a key file; choose the private key file inside it, for example id_ed25519"
            )
        raise KeyFileError(
            f"{path} is a folder, not a key file; choose the private key file inside it, such as {candidate}",
            suggestion=candidate,
        )
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"{path} is not a regular file; choose the private key file, for example ~/.ssh/id_ed25519")
    if info.st_size == 0:
        raise KeyFileError(f"key file {path} is empty; choose the private key file, for example ~/.ssh/id_ed25519")
    if info.st_size > MAX_KEY_FILE_BYTES:
        raise KeyFileError(
            f"{path} is {info.st_size} bytes, too large for an SSH key file "
            f"(at most {MAX_KEY_FILE_BYTES} bytes); choose the private key file"
        )

    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_KEY_FILE_BYTES)
    except PermissionError:
        raise KeyFileError(
            f"cannot read key file {path}: permission denied; run ppdesk as the key's owner, "
            f"or give your user read access to it (chmod 600 keeps it private)"
        ) from None
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror or exc}") from None
    _check_key_format(path, data)
    return path


def _check_key_format(path: str, data: bytes) -> None:
    """Raise KeyFileError unless ``data`` contains a PEM or OpenSSH private key block."""
    if b"PRIVATE KEY-----" in data:
        return
    start = data.lstrip()
    if start.startswith(_PUBLIC_KEY_STARTS) or path.endswith(".pub"):
        _raise_public_key(path)
    if start.startswith(_PUTTY_KEY_START):
        converted = path[: -len(".ppk")] if path.endswith(".ppk") else f"{path}-openssh"
        raise KeyFileError(
            f"{path} is a PuTTY key, which ppdesk cannot read; convert it with PuTTYgen "
            f"(Conversions > Export OpenSSH key) or 'puttygen {path} -O private-openssh -o {converted}', "
            f"then choose the converted file"
        )
    raise KeyFileError(
        f"{path} is not an SSH private key: it has no 'BEGIN ... PRIVATE KEY' line; "
        f"choose the private key file, for example ~/.ssh/id_ed25519"
    )


def _raise_public_key(path: str) -> None:
    if not path.endswith(".pub"):
        raise KeyFileError(
            f"{path} is a public key; choose the private key file of the pair, the one whose name does not end in .pub"
        )
    private = path[: -len(".pub")]
    if os.path.isfile(private):
        raise KeyFileError(
            f"{path} is a public key; choose the private key {private} (the same name without .pub)",
            suggestion=private,
        )
    raise KeyFileError(
        f"{path} is a public key; choose the private key, which usually has the same name without .pub "
        f"({private} was not found)"
    )


def _private_key_in_folder(folder: str) -> Optional[str]:
    """Return the first ``id_*`` file in ``folder`` that is not a .pub file, or None."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return None
    for name in names:
        if name.startswith("id_") and not name.endswith(".pub"):
            return os.path.join(folder, name)
    return None


def _parse_private_key(data: bytes, passphrase: Optional[bytes]) -> object:
    """Parse key bytes with cryptography; TypeError means encrypted, ValueError means bad data or passphrase."""
    if b"BEGIN OPENSSH PRIVATE KEY" in data:
        return serialization.load_ssh_private_key(data, passphrase)
    if b"PRIVATE KEY-----" in data:
        return serialization.load_pem_private_key(data, passphrase)
    raise ValueError("no private key block found")
