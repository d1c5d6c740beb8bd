"""Connection profiles: where a pod is and how to log in, stored as JSON.

A profile stores no secret: passwords and key passphrases are asked for at
connect time and kept in memory only.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from ppdesk import settings
from ppdesk.core.layout import DEFAULT_ROOT

log = logging.getLogger(__name__)

PROFILES_NAME = "profiles.json"
AUTH_METHODS = ("key", "agent", "password")
# Profile names are JSON values and command-line arguments, and may become
# file names, so they keep to characters that Windows, macOS and Linux accept there.
MAX_NAME_LENGTH = 80
_NAME_PUNCTUATION = " ._-@()"
# Names that Windows reserves for devices, with or without an extension.
_RESERVED_NAMES = {"con", "prn", "aux", "nul"} | {f"{kind}{digit}" for kind in ("com", "lpt") for digit in range(1, 10)}


def default_config_dir() -> Path:
    """Return the per-user ppdesk config folder; not created here."""
    return settings.config_dir()


@dataclass
class Profile:
    """One pod: address, login method and workspace locations.

    ``auth`` is ``"key"`` (``key_file`` required), ``"agent"`` (the SSH agent
    in ``SSH_AUTH_SOCK``) or ``"password"``. ``proxy_command`` comes from an
    imported ssh_config and is run locally to reach the host.
    """

    name: str
    host: str
    port: int = 22
    user: str = "root"
    auth: str = "key"
    key_file: Optional[str] = None
    root: str = DEFAULT_ROOT
    python: Optional[str] = None
    loras_dir: Optional[str] = None
    destination: Optional[str] = None
    proxy_command: Optional[str] = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first invalid field."""
        if not self.host or any(ch.isspace() for ch in self.host):
            raise ValueError(f"invalid host {self.host!r}: expected a host name or IP address")
        if not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise ValueError(f"invalid port {self.port!r}: expected a number from 1 to 65535")
        if not self.user or any(ch.isspace() for ch in self.user):
            raise ValueError(f"invalid user {self.user!r}: expected a login name")
        if self.auth not in AUTH_METHODS:
            raise ValueError(f"invalid auth {self.auth!r}: expected one of {', '.join(AUTH_METHODS)}")
        if self.auth == "key" and not self.key_file:
            raise ValueError(f"profile {self.name!r} uses key auth but names no key file")
        if not self.root.startswith("/"):
            raise ValueError(f"invalid workspace root {self.root!r}: expected an absolute path on the pod")

    @property
    def address(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Profile":
        """Build a profile from stored JSON, ignoring unknown keys; ValueError when invalid."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        if "name" not in values or "host" not in values:
            raise ValueError(f"profile entry needs 'name' and 'host': {data!r}")
        return cls(**values)


def check_profile_name(name: str) -> str:
    """Return ``name`` if it is a valid profile name, else raise ValueError naming the problem.

    A valid name has 1 to MAX_NAME_LENGTH letters, digits, spaces and
    ``. _ - @ ( )``. It starts with a letter or digit, does not end with a
    space or '.', which Windows drops from file names, and is not a Windows
    device name such as ``con``.
    """
    allowed = f"letters, digits, spaces and {' '.join(_NAME_PUNCTUATION.strip())}"
    if not name:
        raise ValueError(f"empty profile name: enter a name of up to {MAX_NAME_LENGTH} {allowed}")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"profile name {name!r} is {len(name)} characters long: use at most {MAX_NAME_LENGTH}")
    for char in name:
        if not (char.isalnum() or char in _NAME_PUNCTUATION):
            raise ValueError(f"invalid profile name {name!r}: {char!r} is not allowed; use {allowed}")
    if not name[0].isalnum():
        raise ValueError(f"invalid profile name {name!r}: start it with a letter or digit")
    if name[-1] in " .":
        raise ValueError(f"invalid profile name {name!r}: it must not end with a space or '.'")
    if name.split(".")[0].strip().lower() in _RESERVED_NAMES:
        raise ValueError(f"invalid profile name {name!r}: Windows reserves that name for a device; choose another")
    return name


def suggest_profile_name(user: str, host: str, port: int, existing_names: Iterable[str] = ()) -> str:
    """Return a valid profile name for ``user@host:port`` that differs from every name in ``existing_names``.

    The name reads ``root@203.0.113.7 port 22101``, or ``root@203.0.113.7``
    for port 22. A ':' in an IPv6 address becomes '-', and other characters
    that names do not allow become '_'. A name in ``existing_names``, compared without
    case because some file systems ignore case, gets `` (2)``, `` (3)``...
    The same arguments always give the same name.
    """
    host_part = host.replace(":", "-")
    address = _name_characters(f"{user}@{host_part}").lstrip(_NAME_PUNCTUATION) or "pod"
    port_part = "" if port == 22 else f" port {port}"
    used = {name.casefold() for name in existing_names}

    number = 1
    while True:
        suffix = port_part + (f" ({number})" if number > 1 else "")
        # A long host name is cut, so that the port and the number always fit.
        name = address[: MAX_NAME_LENGTH - len(suffix)].rstrip(" .") + suffix
        if name.casefold() not in used:
            return check_profile_name(name)
        number += 1


def _name_characters(text: str) -> str:
    return "".join(char if char.isalnum() or char in _NAME_PUNCTUATION else "_" for char in text)


class ProfileStore:
    """Profiles kept in one JSON file (``profiles.json`` in the user config folder).

    Writes go to a temporary file that then replaces the old one, so a crash
    never leaves half a file. Not safe against two processes writing at once.
    """

    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = Path(path) if path is not None else default_config_dir() / PROFILES_NAME

    def load(self) -> List[Profile]:
        """Return every stored profile sorted by name; ValueError names a damaged file."""
        if not self.path.is_file():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read profiles from {self.path}: {exc}") from exc
        entries = data.get("profiles") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise ValueError(f"invalid profiles file {self.path}: expected an object with a 'profiles' list")
        profiles = [Profile.from_dict(entry) for entry in entries if isinstance(entry, dict)]
        return sorted(profiles, key=lambda profile: profile.name)

    def get(self, name: str) -> Profile:
        """Return the profile called ``name``; KeyError lists the known names."""
        for profile in self.load():
            if profile.name == name:
                return profile
        known = ", ".join(profile.name for profile in self.load()) or "none"
        raise KeyError(f"no profile named {name!r} (known profiles: {known}); add one with: ppdesk profile add")

    def save(self, profile: Profile, replace: bool = False) -> None:
        """Store ``profile``; ValueError if the name exists and ``replace`` is False."""
        check_profile_name(profile.name)
        profile.validate()
        profiles = {existing.name: existing for existing in self.load()}
        if profile.name in profiles and not replace:
            raise ValueError(
                f"a profile named {profile.name!r} exists already; choose another name, or replace or remove that profile"
            )
        profiles[profile.name] = profile
        self._write(list(profiles.values()))
        log.info("saved profile %s (%s) to %s", profile.name, profile.address, self.path)

    def remove(self, name: str) -> None:
        """Delete the profile called ``name``; KeyError when there is none."""
        profiles = self.load()
        remaining = [profile for profile in profiles if profile.name != name]
        if len(remaining) == len(profiles):
            raise KeyError(f"no profile named {name!r}")
        self._write(remaining)
        log.info("removed profile %s from %s", name, self.path)

    def _write(self, profiles: List[Profile]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"profiles": [profile.to_dict() for profile in sorted(profiles, key=lambda p: p.name)]}
        temp = self.path.with_name(self.path.name + ".tmp")
        temp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        os.replace(temp, self.path)
