"""Turn what pod providers show into profile fields.

Providers print an OpenSSH command line such as
``ssh root@203.0.113.7 -p 22101 -i ~/.ssh/id_ed25519``; users may also have
hosts in ``~/.ssh/config``. Both are parsed here without running anything.
"""

from __future__ import annotations

import logging
import shlex
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

import paramiko

from .profiles import Profile

log = logging.getLogger(__name__)

# OpenSSH client options (ssh(1), OpenSSH 9.x) that take a value.
_OPTIONS_WITH_VALUE = set("BbcDEeFIiJLlmOoPpQRSWw")
# OpenSSH client options that are plain flags.
_FLAGS = set("46AaCfGgKkMNnqsTtVvXxYy")

_RUNPOD_PROXY_HOST = "ssh.runpod.io"


def parse_ssh_command(text: str, ignored: Optional[List[str]] = None) -> Dict[str, Any]:
    """Parse an ``ssh ...`` command line or an ``ssh://`` URL into Profile fields.

    Returns a dict with ``host``, ``port``, ``user``, ``auth`` (``"key"`` when
    ``-i`` is given, else ``"agent"``) and ``key_file``. Every option that
    sets none of these (``-L 8888:localhost:8888``, ``-o
    StrictHostKeyChecking=no``, ``-v``) is appended to ``ignored`` as written,
    when a list is given, and logged. Raises ValueError
    naming the offending value for input that is not an ssh command, for
    ProxyJump (``-J``), and for RunPod's proxied address, which gives only an
    interactive shell.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty ssh command: paste the command your pod provider shows, e.g. ssh root@HOST -p PORT -i KEY")
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"cannot split ssh command {text!r}: {exc}") from exc

    if tokens and (tokens[0] == "ssh" or tokens[0].endswith(("/ssh", "\\ssh", "ssh.exe"))):
        tokens = tokens[1:]
    skipped: List[str] = []
    fields = _parse_tokens(tokens, text, skipped)
    _reject_runpod_proxy(fields["host"])
    if skipped:
        log.info("ignored ssh options in %r: %s", text, ", ".join(skipped))
    if ignored is not None:
        ignored.extend(skipped)
    return fields


def _parse_tokens(tokens: List[str], text: str, ignored: List[str]) -> Dict[str, Any]:
    destination: Optional[str] = None
    login: Optional[str] = None
    port: Optional[str] = None
    key_file: Optional[str] = None

    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("-") or token == "-":
            if destination is not None:
                raise ValueError(
                    f"unexpected {token!r} after the destination {destination!r} in {text!r}: "
                    f"a remote command is not supported, paste only the ssh login command"
                )
            destination = token
            continue

        letter = token[1]
        if letter in _OPTIONS_WITH_VALUE:
            value = token[2:]
            if not value:
                if index >= len(tokens):
                    raise ValueError(f"option {token} needs a value in {text!r}")
                value = tokens[index]
                index += 1
            if letter == "p":
                port = value
            elif letter == "i":
                key_file = value
            elif letter == "l":
                login = value
            elif letter == "J":
                raise ValueError(
                    f"ProxyJump (-J {value}) is not supported: connect to the pod's direct address, "
                    f"or put a ProxyCommand for the host in ~/.ssh/config and import it"
                )
            elif letter == "o":
                port, login, key_file = _apply_option(value, port, login, key_file, ignored)
            else:
                ignored.append(f"-{letter} {value}")
            continue

        unknown = [flag for flag in token[1:] if flag not in _FLAGS]
        if unknown:
            raise ValueError(f"unknown ssh option {token!r} in {text!r}")
        ignored.append(token)

    if destination is None:
        raise ValueError(f"no destination (user@host) in ssh command {text!r}")
    return _build_fields(destination, login, port, key_file)


def _apply_option(option: str, port: Optional[str], login: Optional[str], key_file: Optional[str], ignored: List[str]):
    """Apply one ``-o Key=Value`` option; options other than Port, User and IdentityFile go to ``ignored``."""
    if "=" in option:
        key, _, value = option.partition("=")
    else:
        key, _, value = option.partition(" ")
    key = key.strip().lower()
    value = value.strip()
    if key == "port":
        port = value
    elif key == "user":
        login = value
    elif key == "identityfile":
        key_file = value
    elif key == "proxyjump":
        raise ValueError(f"ProxyJump ({value}) is not supported: connect to the pod's direct address instead")
    else:
        ignored.append(f"-o {option}")
    return port, login, key_file


def _build_fields(destination: str, login: Optional[str], port: Optional[str], key_file: Optional[str]) -> Dict[str, Any]:
    if destination.lower().startswith("ssh://"):
        url_fields = _parse_url(destination)
        user = login or url_fields["user"]
        host = url_fields["host"]
        port_value: Any = port or url_fields["port"]
    else:
        user_part, at, host = destination.rpartition("@")
        user = login or (user_part if at else None)
        port_value = port
    if not host:
        raise ValueError(f"no host in destination {destination!r}")
    return {
        "host": host,
        "port": _parse_port(port_value),
        "user": user or "root",
        "auth": "key" if key_file else "agent",
        "key_file": key_file,
    }


def _parse_url(url: str) -> Dict[str, Any]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid ssh URL {url!r}: {exc}") from exc
    if parts.path not in ("", "/"):
        raise ValueError(f"invalid ssh URL {url!r}: expected ssh://user@host:port without a path")
    return {"user": parts.username, "host": parts.hostname or "", "port": port}


def _parse_port(value: Any) -> int:
    if value is None:
        return 22
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"invalid port {value!r}: expected a number from 1 to 65535") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"invalid port {value!r}: expected a number from 1 to 65535")
    return port


def _reject_runpod_proxy(host: str) -> None:
    if host.lower() == _RUNPOD_PROXY_HOST:
        raise ValueError(
            f"{host} is RunPod's SSH proxy, which gives an interactive shell only, without SFTP "
            f"or remote commands, so ppdesk cannot use it. In the pod's Connect panel, copy the "
            f"'SSH over exposed TCP' command (ssh root@<ip> -p <port> -i <key>) instead"
        )


def import_ssh_config(path: str, warnings: Optional[List[str]] = None) -> List[Profile]:
    """Build one profile per concrete ``Host`` alias of an OpenSSH client config file.

    Wildcard and negated patterns are skipped. ``ProxyCommand`` is kept on the
    profile; hosts with ``ProxyJump`` are skipped because ppdesk cannot chain
    connections. A message for each skipped host is appended to ``warnings``
    when given. Raises OSError if the file cannot be read.
    """
    config = paramiko.SSHConfig.from_path(path)
    profiles: List[Profile] = []
    for alias in sorted(config.get_hostnames()):
        if any(ch in alias for ch in "*?!"):
            continue
        profile = _profile_from_config(config, alias, warnings)
        if profile is not None:
            profiles.append(profile)
    return profiles


def _profile_from_config(config: paramiko.SSHConfig, alias: str, warnings: Optional[List[str]]) -> Optional[Profile]:
    def skip(reason: str) -> None:
        message = f"skipped ssh_config host {alias!r}: {reason}"
        log.warning("%s", message)
        if warnings is not None:
            warnings.append(message)

    try:
        entry = config.lookup(alias)
    except (paramiko.SSHException, ImportError) as exc:
        skip(f"cannot evaluate its settings ({exc})")
        return None
    if entry.get("proxyjump"):
        skip(f"ProxyJump {entry['proxyjump']} is not supported; use a ProxyCommand or the direct address")
        return None
    identity_files = entry.get("identityfile") or []
    try:
        return Profile(
            name=alias,
            host=entry.get("hostname", alias),
            port=_parse_port(entry.get("port")),
            user=entry.get("user") or "root",
            auth="key" if identity_files else "agent",
            key_file=identity_files[0] if identity_files else None,
            proxy_command=entry.get("proxycommand"),
        )
    except ValueError as exc:
        skip(str(exc))
        return None
