"""The flow both grid tools share: build the grid on the pod, then download it.

When the pod's Python lacks Pillow, the source images are fetched and the
grid is built on this machine instead (see ppdesk.tools.local_grid). Each
subclass supplies its request, its skip rules and its summary.
"""

from __future__ import annotations

import abc
import logging
from typing import Any, ClassVar, Dict, List, Optional, Tuple

from ppdesk.core.protocol import AgentFailure
from ppdesk.remote.errors import AgentError
from ppdesk.tools.base import Status, Tool, ToolContext, ToolResult
from ppdesk.tools.common import (
    AgentRequest,
    announce,
    count,
    local_folder,
    run_request,
    transfer_details,
    transfer_status,
)
from ppdesk.tools.grid_files import GridDownload, fetch_grid_files
from ppdesk.tools.local_grid import LocalGrid
from ppdesk.tools.workspace import ConfigEntry

log = logging.getLogger(__name__)

LOCAL_NOTE = "built on this machine because the pod's Python lacks Pillow"


class GridTool(Tool):
    """A tool that builds one grid image (and maybe a sidecar) per config and saves it under ``grids/``."""

    # Lower-case name used in progress messages, such as "dataset grid".
    noun: ClassVar[str]
    # Agent error kinds that mean "nothing to draw", reported as skipped.
    skip_kinds: ClassVar[Tuple[str, ...]]
    # Key of the agent result that counts unreadable images.
    bad_key: ClassVar[str]

    @abc.abstractmethod
    def skip_reason(self, config: ConfigEntry) -> Optional[str]:
        """Return why the scan already shows there is nothing to draw, or None to go ahead."""

    @abc.abstractmethod
    def build_request(self, ctx: ToolContext, config: ConfigEntry) -> AgentRequest:
        """Return the agent request that builds the grid on the pod."""

    @abc.abstractmethod
    def build_here(self, ctx: ToolContext, config: ConfigEntry) -> LocalGrid:
        """Fetch the source images and build the grid on this machine (see ppdesk.tools.local_grid)."""

    @abc.abstractmethod
    def summarise(self, data: Dict[str, Any], bad: int) -> str:
        """Return the first part of the result message: size and counts from the agent's ``data``."""

    @abc.abstractmethod
    def grid_details(self, data: Dict[str, Any], bad: int, common: Dict[str, Any]) -> Dict[str, Any]:
        """Return the result details: this tool's values from ``data`` together with the ``common`` ones."""

    def execute(self, ctx: ToolContext, config: ConfigEntry) -> ToolResult:
        reason = self.skip_reason(config)
        if reason is not None:
            return ToolResult(self.key, config.name, Status.SKIPPED, reason)

        announce(ctx, self.key, config, f"building the {self.noun} on the pod")
        try:
            data = run_request(ctx, self.key, config, self.build_request(ctx, config))
        except AgentError as exc:
            if exc.kind == "no_pillow":
                return self.build_locally(ctx, config)
            if exc.kind in self.skip_kinds:
                return ToolResult(self.key, config.name, Status.SKIPPED, exc.message)
            raise

        paths = [path for path in (data.get("grid"), data.get("sidecar")) if path]
        announce(ctx, self.key, config, f"downloading the {self.noun}")
        fetched = fetch_grid_files(ctx, self.key, config, paths, local_folder(ctx, config, "grids"))
        return self.read_result(ctx, config, data, fetched)

    def build_locally(self, ctx: ToolContext, config: ConfigEntry) -> ToolResult:
        """Build the grid on this machine, noting that in the result message and raising an OK status to warning."""
        log.info("%s on %s: %s", self.title, config.name, LOCAL_NOTE)
        announce(ctx, self.key, config, f"the pod lacks Pillow; building the {self.noun} on this machine")
        try:
            built = self.build_here(ctx, config)
        except AgentFailure as exc:
            return ToolResult(self.key, config.name, Status.SKIPPED, f"{exc.message} ({LOCAL_NOTE})")
        result = self.read_result(ctx, config, built.data, built.placed)
        result.message += f"; {LOCAL_NOTE}"
        if built.fetch_note():
            result.message += f"; {built.fetch_note()}"
        if result.status is Status.OK:
            result.status = Status.WARNING
        result.details["built_locally"] = True
        return result

    def read_result(self, ctx: ToolContext, config: ConfigEntry, data: Dict[str, Any], fetched: GridDownload) -> ToolResult:
        folder = local_folder(ctx, config, "grids")
        report = fetched.report
        local = [str(folder / name) for name in fetched.names]
        warnings: List[str] = list(data.get("warnings") or [])
        bad = count(data.get(self.bad_key))

        message = self.summarise(data, bad)
        status = transfer_status(report)
        note = fetched.note(unchanged_on_pod=bool(data.get("unchanged")))
        if note:
            message += f"; {note}"
            if status is Status.OK:
                status = Status.WARNING
        elif fetched.numbered():
            message += f"; unchanged since an earlier run saved it as {fetched.names[0]}"
        if report.conflicts:
            message += f"; a different local file was kept: {report.conflicts[0].rel}"
        if report.failed:
            message += f"; download failed: {report.failed[0].message}"
        if status is Status.OK and (bad or warnings):
            status = Status.WARNING

        common = {"warnings": warnings, "transfer": transfer_details(report), "local_names": list(fetched.names)}
        details = self.grid_details(data, bad, common)
        return ToolResult(self.key, config.name, status, message, local_files=local, details=details)
