"""Dataset grid tool (key ``dg``): a contact sheet of the training images, built on the pod.

When the pod's Python lacks Pillow, the images are fetched and the grid is
built on this machine instead (see ppdesk.tools.local_grid).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Dict, List

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
from ppdesk.tools.local_grid import build_dataset_grid_locally
from ppdesk.tools.workspace import ConfigEntry

log = logging.getLogger(__name__)

LOCAL_NOTE = "built on this machine because the pod's Python lacks Pillow"


class DatasetGrid(Tool):
    """Compose up to ``options.dataset_limit`` training images into one grid and fetch it.

    Status: ``skipped`` without a local dataset, ``warning`` for unreadable
    images, agent warnings or a different local grid kept, ``failed`` when
    the pod cannot build the grid or the download fails.
    """

    key: ClassVar[str] = "dg"
    title: ClassVar[str] = "Dataset grid"

    def build_request(self, ctx: ToolContext, config: ConfigEntry) -> AgentRequest:
        return AgentRequest("dataset_grid", {"config": config.name, "limit": ctx.options.dataset_limit})

    def execute(self, ctx: ToolContext, config: ConfigEntry) -> ToolResult:
        if not config.datasets:
            reasons = "; ".join(f"{item.get('id')}: {item.get('reason')}" for item in config.skipped_datasets)
            message = "no local dataset folder" + (f" ({reasons})" if reasons else "")
            return ToolResult(self.key, config.name, Status.SKIPPED, message)

        announce(ctx, self.key, config, "building the dataset grid on the pod")
        try:
            data = run_request(ctx, self.key, config, self.build_request(ctx, config))
        except AgentError as exc:
            if exc.kind == "no_pillow":
                return self.build_locally(ctx, config)
            if exc.kind in ("no_datasets", "no_images"):
                return ToolResult(self.key, config.name, Status.SKIPPED, exc.message)
            raise

        paths = [path for path in (data.get("grid"), data.get("sidecar")) if path]
        announce(ctx, self.key, config, "downloading the dataset grid")
        fetched = fetch_grid_files(ctx, self.key, config, paths, local_folder(ctx, config, "grids"))
        return self.read_result(ctx, config, data, fetched)

    def build_locally(self, ctx: ToolContext, config: ConfigEntry) -> ToolResult:
        """Fetch the dataset images and build the grid on this machine, noting that in the result message."""
        log.info("%s on %s: %s", self.title, config.name, LOCAL_NOTE)
        announce(ctx, self.key, config, "the pod lacks Pillow; building the dataset grid on this machine")
        try:
            built = build_dataset_grid_locally(ctx, self.key, config)
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
        bad_images = count(data.get("bad_images"))

        message = (
            f"{data.get('images', 0)} of {data.get('total_images', 0)} images, "
            f"{data.get('width', 0)}x{data.get('height', 0)} px"
        )
        status = transfer_status(report)
        if bad_images:
            message += f", {bad_images} unreadable"
        if fetched.note():
            message += f"; {fetched.note()}"
            if status is Status.OK:
                status = Status.WARNING
        if report.conflicts:
            message += f"; a different local file was kept: {report.conflicts[0].rel}"
        if report.failed:
            message += f"; download failed: {report.failed[0].message}"
        if status is Status.OK and (bad_images or warnings):
            status = Status.WARNING

        details = {key: data.get(key) for key in ("grid", "width", "height", "images", "total_images")}
        details.update({"bad_images": bad_images, "warnings": warnings, "transfer": transfer_details(report)})
        details["local_names"] = list(fetched.names)
        return ToolResult(self.key, config.name, status, message, local_files=local, details=details)
