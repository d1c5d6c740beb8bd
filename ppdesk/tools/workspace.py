"""The client's view of a workspace scan: configs, families and the selection.

The agent's ``scan`` operation returns one JSON document (ScanData). This
module turns it into dataclasses and resolves a selection (a family, or one
config) into the configs the tools run on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Dict, List, Optional

if TYPE_CHECKING:
    from ppdesk.cancel import CancelToken
    from ppdesk.remote.transport import Transport

log = logging.getLogger(__name__)


@dataclass
class ConfigEntry:
    """One config as the scan reported it; the fields mirror the agent's ConfigData.

    Paths are remote paths (strings in the pod's path flavour).
    """

    name: str
    family: str
    path: str = ""
    config_file: Optional[str] = None
    format: Optional[str] = None
    errors: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    model_family: Optional[str] = None
    output: Optional[str] = None
    output_rule: Optional[str] = None
    output_exists: bool = False
    checkpoints: List[int] = field(default_factory=list)
    incomplete_checkpoints: List[int] = field(default_factory=list)
    newest_checkpoint: Optional[int] = None
    final_weights: List[str] = field(default_factory=list)
    validation_samples: int = 0
    unrecognised_samples: int = 0
    datasets: List[str] = field(default_factory=list)
    skipped_datasets: List[Dict[str, str]] = field(default_factory=list)
    prompt_library: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ConfigEntry":
        """Build from a ConfigData dict; unknown keys are ignored, missing ones get defaults.

        Raises ValueError when ``name`` or ``family`` is missing.
        """
        if not isinstance(data, dict) or not data.get("name") or not data.get("family"):
            raise ValueError(f"invalid config entry in scan result: {data!r}")
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known and value is not None}
        return cls(**values)

    def to_dict(self) -> Dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def last_segment(self) -> str:
        """The part of the name after its last ``/`` (the name itself when not nested)."""
        return self.name.rsplit("/", 1)[-1]


@dataclass
class WorkspaceScan:
    """A whole workspace scan: configs in natural order, families and workspace-level errors."""

    configs: List[ConfigEntry] = field(default_factory=list)
    families: Dict[str, List[str]] = field(default_factory=dict)
    errors: List[str] = field(default_factory=list)
    layout: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "WorkspaceScan":
        """Build from the agent's ScanData; raises ValueError when it is not a dict."""
        if not isinstance(data, dict):
            raise ValueError(f"invalid scan result: expected an object, got {type(data).__name__}")
        configs = [ConfigEntry.from_dict(item) for item in data.get("configs") or []]
        families = {str(key): list(value) for key, value in (data.get("families") or {}).items()}
        if not families:
            for entry in configs:
                families.setdefault(entry.family, []).append(entry.name)
        return cls(configs, families, list(data.get("errors") or []), dict(data.get("layout") or {}))

    def config(self, name: str) -> Optional[ConfigEntry]:
        """Return the config called ``name``, or None."""
        for entry in self.configs:
            if entry.name == name:
                return entry
        return None

    def select(self, family: Optional[str], config: Optional[str] = None) -> List[ConfigEntry]:
        """Return the configs of a selection: one ``config``, else every config of ``family``.

        When both are given the config must belong to the family. Raises
        ValueError naming the unknown family or config and listing the known
        ones, or when neither is given.
        """
        if config is not None:
            # Shell completion of a folder name adds a trailing slash.
            config = config.rstrip("/") or config
            entry = self.config(config)
            if entry is None:
                raise ValueError(f"unknown config {config!r}; known configs: {_listing(e.name for e in self.configs)}")
            if family is not None and entry.family != family:
                raise ValueError(f"config {config!r} belongs to family {entry.family!r}, not {family!r}")
            return [entry]

        if family is None:
            raise ValueError("select a family or a config")
        names = self.families.get(family)
        if names is None:
            raise ValueError(f"unknown family {family!r}; known families: {_listing(self.families)}")
        return [entry for entry in self.configs if entry.name in set(names)]


def _listing(names: Any) -> str:
    items = list(names)
    return ", ".join(items) if items else "(none)"


def scan_workspace(transport: "Transport", cancel: Optional["CancelToken"] = None) -> WorkspaceScan:
    """Run the agent's ``scan`` once and return the parsed result.

    Blocks for one agent round trip, so call it from a worker thread. Raises
    TransportError subclasses (AgentError, ConnectionLost...) from the
    transport and ValueError for a malformed result.
    """
    data = transport.run_agent("scan", {}, cancel=cancel)
    scan = WorkspaceScan.from_dict(data)
    log.info("scan of %s: %d configs in %d families", transport.describe(), len(scan.configs), len(scan.families))
    return scan
