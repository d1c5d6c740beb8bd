"""Validation grid tool (key ``vg``): builds the grid on the pod, then downloads it.

The shared build, fall-back and download flow is in ppdesk.tools.grid_tool.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Optional, Tuple

from ppdesk.tools.base import ToolContext
from ppdesk.tools.common import AgentRequest, count, plural
from ppdesk.tools.grid_tool import GridTool
from ppdesk.tools.local_grid import LocalGrid, build_validation_grid_locally
from ppdesk.tools.workspace import ConfigEntry


class ValidationGrid(GridTool):
    """Compose the validation samples into a steps-by-prompts grid and fetch it with its sidecar.

    Status: ``skipped`` without an output folder or samples, ``warning``
    for unreadable cells, agent warnings or a different local grid kept,
    ``failed`` when the pod cannot build the grid or the download fails.
    """

    key: ClassVar[str] = "vg"
    title: ClassVar[str] = "Validation grid"
    noun: ClassVar[str] = "validation grid"
    skip_kinds: ClassVar[Tuple[str, ...]] = ("no_samples",)
    bad_key: ClassVar[str] = "bad_cells"

    def skip_reason(self, config: ConfigEntry) -> Optional[str]:
        if not config.output_exists:
            return f"no output folder ({config.output or 'not set'})"
        if config.validation_samples == 0:
            message = "no validation samples"
            if config.unrecognised_samples:
                message += f"; {config.unrecognised_samples} files in validation_images have unrecognised names"
            return message
        return None

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

    def build_here(self, ctx: ToolContext, config: ConfigEntry) -> LocalGrid:
        return build_validation_grid_locally(ctx, self.key, config)

    def summarise(self, data: Dict[str, Any], bad: int) -> str:
        message = (
            f"{count(data.get('rows'))} rows x {count(data.get('columns'))} columns, "
            f"{data.get('width', 0)}x{data.get('height', 0)} px"
        )
        if bad:
            message += f", {bad} unreadable"
        base_left_out = count(data.get("base_samples_left_out"))
        if base_left_out:
            message += f"; {plural(base_left_out, 'step-0 (base model) sample')} left out"
        return message

    def grid_details(self, data: Dict[str, Any], bad: int, common: Dict[str, Any]) -> Dict[str, Any]:
        details = {key: data.get(key) for key in ("grid", "sidecar", "width", "height")}
        details.update({key: count(data.get(key)) for key in ("rows", "columns", "cells")})
        details["bad_cells"] = bad
        details.update(common)
        details["base_samples_left_out"] = count(data.get("base_samples_left_out"))
        return details
