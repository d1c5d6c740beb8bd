"""The shared interface of the five post-processing tools.

A tool runs on one config at a time with a :class:`ToolContext` and returns a
:class:`ToolResult`. Tools are synchronous and Qt-free: the caller chooses the
thread, reads progress through ``ctx.progress`` and stops them through
``ctx.cancel``.
"""

from __future__ import annotations

import abc
import enum
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Dict, List, Optional

from ppdesk.cancel import Cancelled, CancelToken
from ppdesk.remote.errors import TransportError

if TYPE_CHECKING:
    from ppdesk.remote.transport import Transport
    from ppdesk.tools.workspace import ConfigEntry

log = logging.getLogger(__name__)


class Status(str, enum.Enum):
    OK = "ok"
    WARNING = "warning"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


@dataclass
class ProgressEvent:
    """One progress report. ``unit`` is ``"items"`` or ``"bytes"``.

    ``done``/``total`` count the whole step; ``file``, ``file_done`` and
    ``file_total`` describe one file of a download when set. ``phase`` names
    a step inside a tool, such as ``"hashing"`` on the pod before a download.
    ``finished_name`` and ``finished_outcome`` name an item the step has just
    completed and what happened to it (the LoRA mover: copied, skipped,
    conflict or failed).
    """

    tool: str
    config: str
    message: str = ""
    done: int = 0
    total: int = 0
    unit: str = "items"
    file: Optional[str] = None
    file_done: int = 0
    file_total: int = 0
    phase: str = ""
    finished_name: str = ""
    finished_outcome: str = ""


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class ToolOptions:
    """Settings a user may change per run."""

    jobs: int = 4
    include_base: bool = False
    keep_composite: bool = False
    dataset_limit: int = 100
    max_grid_pixels: int = 80_000_000


@dataclass
class ToolContext:
    """Inputs of one tool run: the transport, the local destination, a progress callback and a cancel token."""

    transport: "Transport"
    dest: Path
    progress: ProgressCallback = lambda event: None
    cancel: CancelToken = field(default_factory=CancelToken)
    options: ToolOptions = field(default_factory=ToolOptions)


@dataclass
class ToolResult:
    """The outcome of one tool on one config.

    ``local_files`` are paths written on this machine; ``remote_files`` are
    paths created on the pod. ``details`` carries tool-specific counts and
    lists (conflicts, skipped files) that must be JSON-serialisable.
    """

    tool: str
    config: str
    status: Status
    message: str
    local_files: List[str] = field(default_factory=list)
    remote_files: List[str] = field(default_factory=list)
    duration: float = 0.0
    details: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "tool": self.tool,
            "config": self.config,
            "status": self.status.value,
            "message": self.message,
            "files": list(self.local_files),
            "remote_files": list(self.remote_files),
            "duration": round(self.duration, 3),
            "details": self.details,
        }


class Tool(abc.ABC):
    """One post-processing step. Subclasses implement :meth:`execute`."""

    key: ClassVar[str]
    title: ClassVar[str]

    def run(self, ctx: ToolContext, config: "ConfigEntry") -> ToolResult:
        """Run on one config and return its result.

        Cancelled becomes status CANCELLED, and TransportError or OSError
        becomes FAILED with the error's message. Any other exception is a bug
        and propagates.
        """
        started = time.monotonic()
        log.info("%s started on %s", self.title, config.name)
        try:
            result = self.execute(ctx, config)
        except Cancelled:
            result = ToolResult(self.key, config.name, Status.CANCELLED, "cancelled")
        except TransportError as exc:
            log.error("%s failed on %s: %s", self.title, config.name, exc)
            result = ToolResult(self.key, config.name, Status.FAILED, str(exc))
        except OSError as exc:
            log.error("%s failed on %s: %s", self.title, config.name, exc)
            result = ToolResult(self.key, config.name, Status.FAILED, f"local file error: {exc}")
        result.duration = time.monotonic() - started
        if result.message and result.message != result.status.value:
            log.info("%s finished on %s: %s, %s", self.title, config.name, result.status.value, result.message)
        else:
            log.info("%s finished on %s: %s", self.title, config.name, result.status.value)
        return result

    @abc.abstractmethod
    def execute(self, ctx: ToolContext, config: "ConfigEntry") -> ToolResult:
        """Do the work; may raise Cancelled, TransportError or OSError."""
