"""Output folder resolution: the folder a config trained into and the rule that found it.

Rules, tried in order until a folder exists on disk:

1. ``output_dir`` from the config, relative to the SimpleTuner root or absolute
   (rule ``"output_dir"``). A value with unresolved placeholders such as
   ``{project_name}`` is reported in a warning and not used.
2. ``<output folder>/<config name>`` (rule ``"output/<name>"``).
3. The layout of the older ``easy`` tool: config ``<project>_<rest>`` trained
   into ``<output folder>/<project>/<rest>`` (rule ``"easy"``).

``<output folder>`` is ``WorkspaceLayout.output_dir``, by default
``SimpleTuner/output``.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .families import last_segment
from .layout import WorkspaceLayout

log = logging.getLogger(__name__)

RULE_SETTING = "output_dir"
RULE_BY_NAME = "output/<name>"
RULE_EASY = "easy"

# {name} templates (the easy tool, SimpleTuner's {model_family}) and $VAR / ${VAR}
# shell variables, which config.env parsing leaves unexpanded.
_PLACEHOLDER = re.compile(r"\$?\{[^{}]*\}|\$[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class OutputResolution:
    """The output folder of one config.

    ``path`` is absolute, or None when no rule gave a usable path. ``exists``
    is True when ``path`` is a folder at the time of the check. ``warnings`` explain placeholders,
    unusable settings and a missing folder.
    """

    path: Optional[str] = None
    rule: Optional[str] = None
    exists: bool = False
    warnings: List[str] = field(default_factory=list)


def find_placeholders(value: str) -> List[str]:
    """Return the unresolved placeholders in a setting value, in order of appearance."""
    return _PLACEHOLDER.findall(value)


def resolve_setting_path(simpletuner: str, value: str) -> str:
    """Resolve a path setting the way SimpleTuner does: relative to its root folder, or absolute."""
    return os.path.normpath(os.path.join(simpletuner, value))


def text_setting(settings: Dict[str, Any], key: str, warnings: List[str]) -> Optional[str]:
    """Return a setting as stripped text, or None when it is unset, empty or ``false``.

    A value that is neither text nor unset adds a warning and gives None.
    """
    value = settings.get(key)
    if value is None or value is False:
        return None
    if not isinstance(value, str):
        warnings.append(f"setting {key} = {value!r} is not a path; ignored")
        return None
    value = value.strip()
    return value or None


def path_setting(
    simpletuner: str, settings: Dict[str, Any], key: str, warnings: List[str]
) -> Optional[str]:
    """Return a path setting resolved against the SimpleTuner root.

    Gives None, and a warning naming the value, when the value contains
    unresolved placeholders. Gives None without a warning when it is unset.
    """
    value = text_setting(settings, key, warnings)
    if value is None:
        return None
    placeholders = find_placeholders(value)
    if placeholders:
        warnings.append(
            f"setting {key} = {value!r} contains unresolved placeholders "
            f"({', '.join(placeholders)}); the value is not used"
        )
        return None
    return resolve_setting_path(simpletuner, value)


def easy_output_path(output_root: str, name: str) -> Optional[str]:
    """Return ``<output_root>/<project>/<rest>`` for a config named ``<project>_<rest>``, else None.

    Only the last segment of a nested name is used, because the easy tool
    kept its configs directly under config/.
    """
    project, sep, rest = last_segment(name).partition("_")
    if not sep or not project or not rest:
        return None
    return os.path.join(output_root, project, rest)


def output_candidates(layout: WorkspaceLayout, name: str, configured: Optional[str]) -> List[Tuple[str, str]]:
    """Return ``(rule, absolute path)`` pairs in the order they are tried, without duplicate paths."""
    candidates: List[Tuple[str, str]] = []
    if configured is not None:
        candidates.append((RULE_SETTING, configured))
    candidates.append((RULE_BY_NAME, os.path.normpath(os.path.join(layout.output_dir, *name.split("/")))))
    easy = easy_output_path(layout.output_dir, name)
    if easy is not None:
        candidates.append((RULE_EASY, os.path.normpath(easy)))

    unique: List[Tuple[str, str]] = []
    seen = set()
    for rule, path in candidates:
        if path not in seen:
            seen.add(path)
            unique.append((rule, path))
    return unique


def resolve_output(layout: WorkspaceLayout, name: str, settings: Dict[str, Any]) -> OutputResolution:
    """Find the output folder of config ``name`` from its parsed ``settings``.

    When no candidate exists, the configured ``output_dir`` is returned with
    ``exists=False``, because training may not have started yet. Without a
    usable ``output_dir`` the path and rule are None.
    """
    resolution = OutputResolution()
    configured = path_setting(layout.simpletuner, settings, "output_dir", resolution.warnings)
    candidates = output_candidates(layout, name, configured)

    for rule, path in candidates:
        if os.path.isdir(path):
            resolution.path, resolution.rule, resolution.exists = path, rule, True
            if configured is not None and rule != RULE_SETTING:
                resolution.warnings.append(
                    f"output folder {configured} from output_dir not found; using {path} ({rule} rule)"
                )
            return resolution

    looked_in = ", ".join(path for _, path in candidates)
    if configured is not None:
        resolution.path, resolution.rule = configured, RULE_SETTING
        resolution.warnings.append(f"output folder not found (looked in {looked_in})")
    else:
        resolution.warnings.append(f"no output folder found (looked in {looked_in})")
    log.debug("no output folder found for config %s (candidates: %s)", name, looked_in)
    return resolution
