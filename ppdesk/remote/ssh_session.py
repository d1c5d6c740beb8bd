"""Opening one authenticated SSH connection: socket, handshake, host key, login.

The host key is checked right after the key exchange and before any
credential is sent, so a wrong server never receives a password or a signature.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from typing import List, Optional

import paramiko

from .errors import ConnectionFailed, HostKeyError
from .hostkeys import HostKeyPolicy, HostKeyStore, host_key_name
from .default_identities import login_with_default_identities
from .password_login import login_with_password
from .profiles import Profile
from .proxy_command import ProxyCommandSocket
from .ssh_auth import SshPrompts, check_key_file, load_private_key

log = logging.getLogger(__name__)

# Errors that mean the link itself failed rather than one remote file.
LINK_ERRORS = (EOFError, paramiko.SSHException, socket.timeout, ConnectionError)


@dataclass
class CredentialCache:
    """Secrets obtained during the first connect, reused by reconnects.

    Held in memory for the life of one SshTransport and never written
    anywhere, so a reconnect during a download does not ask again.
    """

    key: Optional[paramiko.PKey] = None
    password: Optional[str] = field(default=None, repr=False)


def open_ssh(
    profile: Profile,
    prompts: SshPrompts,
    host_keys: HostKeyStore,
    credentials: CredentialCache,
    timeout: float,
) -> paramiko.Transport:
    """Connect, check the host key, authenticate, and return the live transport.

    ``timeout`` (seconds) bounds the TCP connect, the SSH banner, the key
    exchange and each authentication step. The key file of a key profile is
    checked before anything connects (unless ``credentials`` holds the key
    already), so a wrong path gives the same KeyFileError as on the command
    line. Raises ConnectionFailed (or its subclasses HostKeyError and
    KeyFileError) with a message for the user. When a ProxyCommand ended
    during the login, the message names its exit status and last stderr
    line. The socket or ProxyCommand is closed on every failure.
    """
    if profile.auth == "key" and credentials.key is None:
        check_key_file(profile.key_file)
    sock = _open_socket(profile, timeout)
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        transport.auth_timeout = timeout
        policy = HostKeyPolicy(host_keys, profile.host, profile.port, prompts.confirm_host_key)
        _prefer_known_key_types(transport, policy.preferred_key_types())
        _prefer_aead_ciphers(transport)
        _handshake(transport, profile, timeout)
        server_key = transport.get_remote_server_key()
        policy.missing_host_key(None, host_key_name(profile.host, profile.port), server_key)
        _authenticate(transport, profile, prompts, credentials)
    except HostKeyError:
        transport.close()
        raise
    except ConnectionFailed as exc:
        failure = _proxy_failure(sock)
        transport.close()
        if failure is None:
            raise
        raise failure from exc
    except (paramiko.SSHException, EOFError, OSError) as exc:
        failure = _proxy_failure(sock) or ConnectionFailed(
            f"connection to {profile.host}:{profile.port} failed during login: {exc}"
        )
        transport.close()
        raise failure from exc
    except BaseException:
        transport.close()
        raise
    log.info("connected to %s", profile.address)
    return transport


def _proxy_failure(sock: "socket.socket | ProxyCommandSocket") -> Optional[ConnectionFailed]:
    """Return the error to raise when ``sock`` is a ProxyCommand that ended, else None."""
    if isinstance(sock, ProxyCommandSocket) and sock.ended():
        return ConnectionFailed(sock.exit_message())
    return None


def _open_socket(profile: Profile, timeout: float) -> "socket.socket | ProxyCommandSocket":
    where = f"{profile.host}:{profile.port}"
    if profile.proxy_command:
        proxy = ProxyCommandSocket(profile.proxy_command)
        proxy.settimeout(timeout)
        return proxy
    try:
        return socket.create_connection((profile.host, profile.port), timeout=timeout)
    except ConnectionRefusedError as exc:
        raise ConnectionFailed(f"connection refused by {where} (is sshd running on that port?)") from exc
    except socket.gaierror as exc:
        raise ConnectionFailed(f"cannot resolve host {profile.host!r}: {exc.strerror or exc}; check the address") from exc
    except TimeoutError as exc:
        raise ConnectionFailed(f"timed out connecting to {where}") from exc
    except OSError as exc:
        raise ConnectionFailed(f"cannot connect to {where}: {exc.strerror or exc}") from exc


def _prefer_known_key_types(transport: paramiko.Transport, known_types: List[str]) -> None:
    """Ask the server for a key type already stored, as OpenSSH does, so a second key type does not look like a change."""
    if not known_types:
        return
    options = transport.get_security_options()
    preferred: List[str] = []
    for key_type in known_types:
        # A stored ssh-rsa key is offered through its SHA-2 signature algorithms.
        candidates = ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if key_type == "ssh-rsa" else [key_type]
        preferred.extend(name for name in candidates if name in options.key_types and name not in preferred)
    if preferred:
        options.key_types = preferred + [name for name in options.key_types if name not in preferred]


# AES-GCM needs no separate MAC pass. With paramiko 5.1 on loopback (see
# bench/README.md) a session channel moved about 150 MB/s with paramiko's
# default AES-CTR and HMAC-SHA2 and 230-380 MB/s with AES-GCM.
_FAST_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


def _prefer_aead_ciphers(transport: paramiko.Transport) -> None:
    """Offer AES-GCM first when this paramiko supports it; the other ciphers stay as fallbacks."""
    options = transport.get_security_options()
    fast = [name for name in _FAST_CIPHERS if name in options.ciphers]
    if fast:
        options.ciphers = tuple(fast) + tuple(name for name in options.ciphers if name not in fast)


def _handshake(transport: paramiko.Transport, profile: Profile, timeout: float) -> None:
    where = f"{profile.host}:{profile.port}"
    try:
        transport.start_client(timeout=timeout)
    except paramiko.SSHException as exc:
        if "timeout" in str(exc).lower() or "timed out" in str(exc).lower():
            raise ConnectionFailed(f"timed out connecting to {where} (no SSH handshake within {timeout:g} s)") from exc
        raise ConnectionFailed(f"SSH handshake with {where} failed: {exc} (is that port an SSH server?)") from exc
    except EOFError as exc:
        raise ConnectionFailed(f"SSH handshake with {where} failed: the server closed the connection") from exc


def _authenticate(transport: paramiko.Transport, profile: Profile, prompts: SshPrompts, credentials: CredentialCache) -> None:
    login = f"{profile.user}@{profile.host}"
    try:
        if profile.auth == "key":
            _auth_key(transport, profile, prompts, credentials)
        elif profile.auth == "agent":
            _auth_agent(transport, profile, prompts, credentials)
        else:
            login_with_password(transport, profile, prompts, credentials)
    except paramiko.BadAuthenticationType as exc:
        allowed = ", ".join(exc.allowed_types) or "none"
        raise ConnectionFailed(
            f"authentication rejected for {login}: the server does not accept {profile.auth} login "
            f"(it accepts: {allowed})"
        ) from exc
    except paramiko.AuthenticationException as exc:
        raise ConnectionFailed(f"authentication rejected for {login}") from exc
    if not transport.is_authenticated():
        raise ConnectionFailed(f"authentication rejected for {login}: the server asks for more steps than one")


def _auth_key(transport: paramiko.Transport, profile: Profile, prompts: SshPrompts, credentials: CredentialCache) -> None:
    if credentials.key is None:
        assert profile.key_file is not None  # Profile.validate requires it for key auth
        credentials.key = load_private_key(profile.key_file, prompts.ask_passphrase)
    transport.auth_publickey(profile.user, credentials.key)


def _auth_agent(transport: paramiko.Transport, profile: Profile, prompts: SshPrompts, credentials: CredentialCache) -> None:
    """Log in as ssh does without -i: the SSH agent's keys, then the default key files in ~/.ssh.

    An accepted default key file is kept in ``credentials``, so a reconnect
    offers it again without asking for its passphrase.
    """
    if credentials.key is not None:
        transport.auth_publickey(profile.user, credentials.key)
        return
    credentials.key = login_with_default_identities(transport, profile.user, profile.host, prompts.ask_passphrase)
