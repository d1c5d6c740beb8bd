"""Validation grid tool (key ``vg``): builds the grid on the pod, then downloads it."""

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

NO_PILLOW_MESSAGE = "the pod's Python lacks Pillow, so the grid cannot be built there; install Pillow on the pod"


class ValidationGrid(Tool):
    """Compose the validation samples into a steps-by-prompts grid and fetch it with its sidecar.

    Status: ``skipped`` without an output folder or samples, ``warning``
    for unreadable cells, agent warnings or a different local grid kept,
    ``failed`` when the pod cannot build the grid or the download fails.
    """

    key: ClassVar[str] = "vg"
    title: ClassVar[str] = "Validation grid"

    def build_request(self, ctx: ToolContext, config: ConfigEntry) -> AgentRequest:
        options = ctx.options
        return AgentRequest(
            "validation_grid",
            {
                "config": config.name,
                "include_base": options.include_base,
                "keep_composite": options.keep_composite,
                "max_pixels": options.max_grid_pixels,
            },
        )

    def execute(self, ctx: ToolContext, config: ConfigEntry) -> ToolResult:
        if not config.output_exists:
            return ToolResult(self.key, config.name, Status.SKIPPED, f"no output folder ({config.output or 'not set'})")
        if config.validation_samples == 0:
            message = "no validation samples"
            if config.unrecognised_samples:
                message += f"; {config.unrecognised_samples} files in validation_images have unrecognised names"
            return ToolResult(self.key, config.name, Status.SKIPPED, message)

        announce(ctx, self.key, config, "building the validation grid on the pod")
        try:
            data = run_request(ctx, self.key, config, self.build_request(ctx, config))
        except AgentError as exc:
            if exc.kind == "no_pillow":
                # TODO: fetch the samples (op list_samples) and compose the grid locally instead.
                return ToolResult(self.key, config.name, Status.FAILED, NO_PILLOW_MESSAGE)
            if exc.kind == "no_samples":
                return ToolResult(self.key, config.name, Status.SKIPPED, exc.message)
            raise

        paths = [path for path in (data.get("grid"), data.get("sidecar")) if path]
        announce(ctx, self.key, config, "downloading the validation grid")
        report = fetch_pod_files(ctx, self.key, config, paths, local_folder(ctx, config, "grids"))
        return self.read_result(ctx, config, data, report)

    def read_result(
        self, ctx: ToolContext, config: ConfigEntry, data: Dict[str, Any], report: TransferReport
    ) -> ToolResult:
        folder = local_folder(ctx, config, "grids")
        local = [str(folder / outcome.rel) for outcome in report.downloaded + report.skipped]
        warnings: List[str] = list(data.get("warnings") or [])
        bad_cells = count(data.get("bad_cells"))

        message = (
            f"{count(data.get('rows'))} rows x {count(data.get('columns'))} columns, "
            f"{data.get('width', 0)}x{data.get('height', 0)} px"
        )
        status = transfer_status(report)
        if bad_cells:
            message += f", {bad_cells} unreadable"
        if report.conflicts:
            message += f"; a different local grid was kept: {report.conflicts[0].rel}"
        if report.failed:
            message += f"; download failed: {report.failed[0].message}"
        if status is Status.OK and (bad_cells or warnings):
            status = Status.WARNING

        details = {key: data.get(key) for key in ("grid", "sidecar", "width", "height")}
        details.update({key: count(data.get(key)) for key in ("rows", "columns", "cells")})
        details.update({"bad_cells": bad_cells, "warnings": warnings, "transfer": transfer_details(report)})
        return ToolResult(self.key, config.name, status, message, local_files=local, details=details)
