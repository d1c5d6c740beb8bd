"""Prompt texts for validation samples.

SimpleTuner's user prompt library is a JSON object mapping each shortname to
its prompt (``{"portrait": "anime portrait of ..."}``). The shortname
``validation`` belongs to the config's own ``validation_prompt`` setting.
These functions never raise for a missing or broken file: they return None
and a warning the caller can show.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
from typing import Any, Dict, Optional, Tuple

log = logging.getLogger(__name__)

VALIDATION_SHORTNAME = "validation"
_PROMPT_KEYS = ("validation_prompt", "--validation_prompt")


def read_prompt_library(path: Optional[str]) -> Tuple[Optional[Dict[str, str]], Optional[str]]:
    """Read a user prompt library; return ``(prompts, warning)``.

    ``prompts`` maps shortname to prompt text, or is None when ``path`` is
    None, missing, not valid JSON or not an object. Entries whose value is not
    a string are skipped and named in the warning.
    """
    if not path:
        return None, None
    try:
        with open(path, "r", encoding="utf-8") as stream:
            document = json.load(stream)
    except FileNotFoundError:
        return None, f"prompt library not found: {path}"
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"prompt library {path} cannot be read as JSON ({exc}); prompts are left out"
    if not isinstance(document, dict):
        return None, f"prompt library {path} is not a JSON object of shortname to prompt; prompts are left out"

    prompts: Dict[str, str] = {}
    skipped = []
    for key, value in document.items():
        if isinstance(value, str):
            prompts[str(key)] = value
        else:
            skipped.append(str(key))
    warning = None
    if skipped:
        warning = f"prompt library {path}: entries {', '.join(skipped)} are not strings and were skipped"
    return prompts, warning


def read_validation_prompt(config: Dict[str, Any]) -> Optional[str]:
    """Return the config's ``validation_prompt``, or None when it is not set or unreadable.

    Uses ``config["validation_prompt"]`` when the scan filled it in, else
    reads ``config["config_file"]``: JSON (keys with or without ``--``),
    TOML when the interpreter has ``tomllib`` (Python 3.11+), or a
    ``config.env`` line ``VALIDATION_PROMPT=...``.
    """
    value = config.get("validation_prompt")
    if isinstance(value, str):
        return value
    path = config.get("config_file")
    if not isinstance(path, str) or not os.path.isfile(path):
        return None
    try:
        if path.endswith(".json"):
            return _from_mapping(_load_json(path))
        if path.endswith(".toml"):
            return _from_mapping(_load_toml(path))
        if path.endswith(".env"):
            return _from_env(path)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        log.warning("cannot read validation_prompt from %s: %s", path, exc)
    return None


def prompt_for(
    shortname: str,
    index: Optional[int],
    prompts: Optional[Dict[str, str]],
    validation_prompt: Optional[str],
) -> Optional[str]:
    """Return the prompt text of a sample, or None when nothing names it.

    A library key equal to the shortname wins. When there is none and the
    sample has an index, ``<shortname>_<index>`` is tried, because a library
    shortname ending in ``_<digits>`` is parsed as shortname plus index.
    """
    if prompts:
        if shortname in prompts:
            return prompts[shortname]
        if index is not None and f"{shortname}_{index}" in prompts:
            return prompts[f"{shortname}_{index}"]
    if shortname == VALIDATION_SHORTNAME:
        return validation_prompt
    return None


def _load_json(path: str) -> Any:
    with open(path, "r", encoding="utf-8") as stream:
        return json.load(stream)


def _load_toml(path: str) -> Any:
    try:
        import tomllib  # novm
    except ImportError:
        log.debug("tomllib is missing on this Python; validation_prompt of %s is not read", path)
        return None
    with open(path, "rb") as stream:
        return tomllib.load(stream)


def _from_mapping(document: Any) -> Optional[str]:
    if not isinstance(document, dict):
        return None
    for key in _PROMPT_KEYS:
        value = document.get(key)
        if isinstance(value, str):
            return value
    return None


def _from_env(path: str) -> Optional[str]:
    with open(path, "r", encoding="utf-8") as stream:
        for line in stream:
            text = line.strip()
            if text.startswith("export "):
                text = text[len("export "):].strip()
            if not text.startswith("VALIDATION_PROMPT="):
                continue
            raw = text[len("VALIDATION_PROMPT="):]
            try:
                parts = shlex.split(raw)
            except ValueError:
                return raw
            return " ".join(parts)
    return None
