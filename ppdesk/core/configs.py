"""Discovery and parsing of SimpleTuner config environments.

A config environment is a folder below ``SimpleTuner/config/`` that contains
``config.json``, ``config.toml`` or ``config.env``. When a folder contains
more than one of them, SimpleTuner reads the first in that order, and so do
we. Folders may sit one level deeper (``config/examples/flux.peft-lora``);
the config name is the path below ``config/`` with ``/`` separators.

A file that cannot be read or parsed makes :func:`read_config` raise
:class:`ConfigParseError`, whose message is written for the user. The scan
catches it and keeps the config listed with that message.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .families import natural_key

try:
    import tomllib  # novm
except ImportError:  # tomllib is new in Python 3.11
    tomllib = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

# File name and format, in the order SimpleTuner prefers them.
CONFIG_FILES: Tuple[Tuple[str, str], ...] = (
    ("config.json", "json"),
    ("config.toml", "toml"),
    ("config.env", "env"),
)

# Folder names under config/ that never hold a config environment.
SKIPPED_FOLDERS = frozenset({"templates", ".ipynb_checkpoints", "__pycache__"})

# Names are config/<name> or config/<group>/<name>. Deeper folders are not searched.
MAX_NAME_DEPTH = 2

TOML_UNAVAILABLE = "TOML config needs Python 3.11+ (tomllib) on the pod"

# config.env variables whose setting name differs from the lower-cased variable.
ENV_SETTING_NAMES = {
    "OUTPUT_DIR": "output_dir",
    "DATALOADER_CONFIG": "data_backend_config",
    "MODEL_FAMILY": "model_family",
}


class ConfigParseError(ValueError):
    """A config file could not be read or parsed; the message names the file and the problem."""


@dataclass(frozen=True)
class ConfigLocation:
    """One config environment folder and the config file SimpleTuner would read.

    ``config_file`` and ``format`` are None only for a location built by hand
    for a folder without a config file; discovery never returns one.
    """

    name: str
    path: str
    config_file: Optional[str]
    format: Optional[str]


@dataclass
class ParsedConfig:
    """Settings of one config file with leading dashes stripped from the keys.

    ``warnings`` lists lines or keys that were ignored while parsing.
    """

    settings: Dict[str, Any] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)


@dataclass
class Discovery:
    """Config locations found under config/ (natural order) and folders that could not be listed."""

    locations: List[ConfigLocation] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)


def is_skipped_folder(name: str) -> bool:
    """Return True for hidden folders and folder names that never hold configs."""
    return name.startswith(".") or name in SKIPPED_FOLDERS


def find_config_file(folder: str) -> Optional[Tuple[str, str]]:
    """Return ``(absolute path, format)`` of the config file SimpleTuner would read, or None."""
    for file_name, fmt in CONFIG_FILES:
        candidate = os.path.join(folder, file_name)
        if os.path.isfile(candidate):
            return candidate, fmt
    return None


def discover_configs(config_dir: str) -> Discovery:
    """Find every config environment under ``config_dir``.

    A top-level folder with a config file is a config and is not searched
    further; one without is searched one level deeper. Raises OSError when
    ``config_dir`` itself cannot be listed. A sub-folder that cannot be
    listed is reported in ``Discovery.problems`` and skipped.
    """
    discovery = Discovery()
    # NOTE: a config file directly in config/ (SimpleTuner's default when no
    # environment is named) has no folder name, so it is not listed.
    for top_name, top_path in _sub_folders(config_dir):
        location = _location_if_config(top_name, top_path)
        if location is not None:
            discovery.locations.append(location)
            continue
        try:
            nested = _sub_folders(top_path)
        except OSError as exc:
            log.warning("failed to list config sub-folder %s: %s", top_path, exc)
            discovery.problems.append(f"failed to list config folder {top_path}: {exc}")
            continue
        for nested_name, nested_path in nested:
            location = _location_if_config(f"{top_name}/{nested_name}", nested_path)
            if location is not None:
                discovery.locations.append(location)

    discovery.locations.sort(key=lambda item: natural_key(item.name))
    return discovery


def _sub_folders(folder: str) -> List[Tuple[str, str]]:
    found: List[Tuple[str, str]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if is_skipped_folder(entry.name):
                continue
            try:
                is_folder = entry.is_dir()
            except OSError:
                is_folder = False
            if is_folder:
                found.append((entry.name, entry.path))
    return found


def _location_if_config(name: str, folder: str) -> Optional[ConfigLocation]:
    found = find_config_file(folder)
    if found is None:
        return None
    return ConfigLocation(name=name, path=folder, config_file=found[0], format=found[1])


def split_config_name(name: str) -> List[str]:
    """Split a config name into its segments after checking that it is a plain relative name.

    Raises ValueError for an empty name, an absolute path, a drive letter, a
    backslash, a NUL character, an empty segment or a ``.``/``..`` segment.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("config name must be a non-empty string")
    if "\\" in name or "\x00" in name:
        raise ValueError(f"config name {name!r} contains a backslash or NUL character")
    if name.startswith("/") or (len(name) >= 2 and name[1] == ":"):
        raise ValueError(f"config name {name!r} is an absolute path; use the name below config/")
    segments = name.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise ValueError(f"config name {name!r} contains an empty, '.' or '..' segment")
    return segments


def locate_config(config_dir: str, name: str) -> Optional[ConfigLocation]:
    """Return the location of the config called ``name``, or None when discovery would not list it.

    Raises ValueError for a name that is not a plain relative name (see
    :func:`split_config_name`). Only the named folder is inspected, so this
    stays cheap in a workspace with hundreds of configs.
    """
    segments = split_config_name(name)
    if len(segments) > MAX_NAME_DEPTH or any(is_skipped_folder(segment) for segment in segments):
        return None
    folder = os.path.join(config_dir, *segments)
    if len(segments) == 2 and find_config_file(os.path.join(config_dir, segments[0])) is not None:
        # Discovery does not look inside a folder that is a config itself.
        return None
    return _location_if_config(name, folder)


def read_config(path: str, fmt: str) -> ParsedConfig:
    """Read and parse one config file of format ``json``, ``toml`` or ``env``.

    Raises ConfigParseError when the file cannot be read or decoded as UTF-8,
    is not valid for its format, or is TOML on a Python without tomllib.
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ConfigParseError(f"failed to read {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigParseError(f"{path} is not UTF-8 text: {exc}") from exc

    if fmt == "json":
        return ParsedConfig(settings=parse_json_settings(text, path))
    if fmt == "toml":
        return ParsedConfig(settings=parse_toml_settings(text, path))
    if fmt == "env":
        return parse_env_settings(text, path)
    raise ConfigParseError(f"unknown config format {fmt!r} for {path}")


def normalise_keys(mapping: Dict[str, Any]) -> Dict[str, Any]:
    """Return a copy with leading dashes stripped from each key (``--output_dir`` -> ``output_dir``)."""
    return {str(key).lstrip("-"): value for key, value in mapping.items()}


def parse_json_settings(text: str, path: str = "config.json") -> Dict[str, Any]:
    """Parse a config.json document. Raises ConfigParseError unless it is a JSON object."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigParseError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigParseError(f"{path} must contain a JSON object, found {type(data).__name__}")
    return normalise_keys(data)


def parse_toml_settings(text: str, path: str = "config.toml") -> Dict[str, Any]:
    """Parse a config.toml document. Raises ConfigParseError when tomllib is missing or the TOML is invalid."""
    if tomllib is None:
        raise ConfigParseError(TOML_UNAVAILABLE)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigParseError(f"{path} is not valid TOML: {exc}") from exc
    return normalise_keys(data)


def parse_env_settings(text: str, path: str = "config.env") -> ParsedConfig:
    """Parse the shell assignments of a config.env file.

    Lines of the form ``export KEY=value`` or ``KEY=value`` are read with
    shell quoting rules and ``#`` comments. Variables are not expanded, so a
    value such as ``$HOME/out`` stays as written. Keys become setting names:
    OUTPUT_DIR -> output_dir, DATALOADER_CONFIG -> data_backend_config,
    MODEL_FAMILY -> model_family, any other key in lower case. Lines that are
    not assignments are ignored; a line with unbalanced quotes is ignored with
    a warning.
    """
    parsed = ParsedConfig()
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            tokens = shlex.split(stripped, comments=True, posix=True)
        except ValueError as exc:
            parsed.warnings.append(f"{path} line {number} ignored: {exc}")
            continue
        if tokens and tokens[0] == "export":
            tokens = tokens[1:]
        # Leading assignments only: in "A=1 some_command B=2", B=2 is an argument.
        for token in tokens:
            key, sep, value = token.partition("=")
            if not sep or not key.isidentifier():
                break
            parsed.settings[ENV_SETTING_NAMES.get(key, key.lower())] = value
    return parsed
