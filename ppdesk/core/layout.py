"""Where things live in a pod workspace.

A workspace root (``/workspace`` on most pods) contains ``SimpleTuner/`` and
``ComfyUI/``. Every location can be overridden, because pods differ.
"""

from __future__ import annotations

import posixpath
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Optional

DEFAULT_ROOT = "/workspace"


@dataclass(frozen=True)
class WorkspaceLayout:
    """Absolute paths of one workspace, as seen on the machine that stores it.

    Paths are strings, not ``pathlib`` objects, because the layout travels as
    JSON to the agent and the pod may use another path flavour than the client.
    """

    root: str = DEFAULT_ROOT
    simpletuner: str = ""
    config_dir: str = ""
    output_dir: str = ""
    datasets_dir: str = ""
    loras_dir: str = ""
    cache_dir: str = ""
    extra: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_root(cls, root: str, **overrides: Optional[str]) -> "WorkspaceLayout":
        """Build the default layout under ``root``; a non-empty override wins."""
        st = overrides.get("simpletuner") or posixpath.join(root, "SimpleTuner")
        values = {
            "root": root,
            "simpletuner": st,
            "config_dir": posixpath.join(st, "config"),
            "output_dir": posixpath.join(st, "output"),
            "datasets_dir": posixpath.join(st, "datasets"),
            "loras_dir": posixpath.join(root, "ComfyUI", "models", "loras"),
            "cache_dir": posixpath.join(root, ".ppdesk"),
        }
        for key, value in overrides.items():
            if value and key in values:
                values[key] = value
        return cls(**values)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "WorkspaceLayout":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if known.get("simpletuner") and known.get("config_dir"):
            return cls(**known)
        # A partial layout (often just a root) gets the defaults for the rest.
        root = known.pop("root", None) or DEFAULT_ROOT
        known.pop("extra", None)
        return cls.from_root(root, **known)
