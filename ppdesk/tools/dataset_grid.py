"""Dataset grid tool (key ``dg``): a contact sheet of the training images, built on the pod."""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Dict, List

from ppdesk.remote.errors import AgentError
from ppdesk.tools.base import Status, Tool, ToolContext, ToolResult
from ppdesk.tools.common import (
    AgentRequest,
    announce,
    count,
    fetch_pod_files,
    local_folder,
    run_request,
    transfer_details,
    transfer_status,
)
from ppdesk.tools.workspace import ConfigEntry
from ppdesk.transfer.report import TransferReport

log = logging.getLogger(__name__)

NO_PILLOW_MESSAGE = "the pod's Python lacks Pillow, so the dataset grid cannot be built there; install Pillow on the pod"


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
                # TODO: fetch the dataset images and compose the grid locally instead.
                return ToolResult(self.key, config.name, Status.FAILED, NO_PILLOW_MESSAGE)
            if exc.kind in ("no_datasets", "no_images"):
                return ToolResult(self.key, config.name, Status.SKIPPED, exc.message)
            raise

        paths = [path for path in (data.get("grid"), data.get("sidecar")) if path]
        announce(ctx, self.key, config, "downloading the dataset grid")
        report = fetch_pod_files(ctx, self.key, config, paths, local_folder(ctx, config, "grids"))
        return self.read_result(ctx, config, data, report)

    def read_result(
        self, ctx: ToolContext, config: ConfigEntry, data: Dict[str, Any], report: TransferReport
    ) -> ToolResult:
        folder = local_folder(ctx, config, "grids")
        local = [str(folder / outcome.rel) for outcome in report.downloaded + report.skipped]
        warnings: List[str] = list(data.get("warnings") or [])
        bad_images = count(data.get("bad_images"))

        message = (
            f"{data.get('images', 0)} of {data.get('total_images', 0)} images, "
            f"{data.get('width', 0)}x{data.get('height', 0)} px"
        )
        status = transfer_status(report)
        if bad_images:
            message += f", {bad_images} unreadable"
        if report.conflicts:
            message += f"; a different local grid was kept: {report.conflicts[0].rel}"
        if report.failed:
            message += f"; download failed: {report.failed[0].message}"
        if status is Status.OK and (bad_images or warnings):
            status = Status.WARNING

        details = {key: data.get(key) for key in ("grid", "width", "height", "images", "total_images")}
        details.update({"bad_images": bad_images, "warnings": warnings, "transfer": transfer_details(report)})
        return ToolResult(self.key, config.name, status, message, local_files=local, details=details)
