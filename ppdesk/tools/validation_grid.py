"""Validation grid tool (key ``vg``): builds the grid on the pod, then downloads it.

When the pod's Python lacks Pillow, the samples are fetched and the grid is
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
    plural,
    run_request,
    transfer_details,
    transfer_status,
)
from ppdesk.tools.grid_files import GridDownload, fetch_grid_files
from ppdesk.tools.local_grid import build_validation_grid_locally
from ppdesk.tools.workspace import ConfigEntry

log = logging.getLogger(__name__)

LOCAL_NOTE = "built on this machine because the pod's Python lacks Pillow"


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
                return self.build_locally(ctx, config)
            if exc.kind == "no_samples":
                return ToolResult(self.key, config.name, Status.SKIPPED, exc.message)
            raise

        paths = [path for path in (data.get("grid"), data.get("sidecar")) if path]
        announce(ctx, self.key, config, "downloading the validation grid")
        fetched = fetch_grid_files(ctx, self.key, config, paths, local_folder(ctx, config, "grids"))
        return self.read_result(ctx, config, data, fetched)

    def build_locally(self, ctx: ToolContext, config: ConfigEntry) -> ToolResult:
        """Fetch the samples and build the grid on this machine, noting that in the result message."""
        log.info("%s on %s: %s", self.title, config.name, LOCAL_NOTE)
        announce(ctx, self.key, config, "the pod lacks Pillow; building the validation grid on this machine")
        try:
            built = build_validation_grid_locally(ctx, self.key, config)
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
        bad_cells = count(data.get("bad_cells"))

        message = (
            f"{count(data.get('rows'))} rows x {count(data.get('columns'))} columns, "
            f"{data.get('width', 0)}x{data.get('height', 0)} px"
        )
        status = transfer_status(report)
        if bad_cells:
            message += f", {bad_cells} unreadable"
        base_left_out = count(data.get("base_samples_left_out"))
        if base_left_out:
            message += f"; {plural(base_left_out, 'step-0 (base model) sample')} left out"
        if fetched.note():
            message += f"; {fetched.note()}"
            if status is Status.OK:
                status = Status.WARNING
        if report.conflicts:
            message += f"; a different local file was kept: {report.conflicts[0].rel}"
        if report.failed:
            message += f"; download failed: {report.failed[0].message}"
        if status is Status.OK and (bad_cells or warnings):
            status = Status.WARNING

        details = {key: data.get(key) for key in ("grid", "sidecar", "width", "height")}
        details.update({key: count(data.get(key)) for key in ("rows", "columns", "cells")})
        details.update({"bad_cells": bad_cells, "warnings": warnings, "transfer": transfer_details(report)})
        details["local_names"] = list(fetched.names)
        details["base_samples_left_out"] = base_left_out
        return ToolResult(self.key, config.name, status, message, local_files=local, details=details)
