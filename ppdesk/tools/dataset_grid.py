"""Dataset grid tool (key ``dg``): a contact sheet of the training images, built on the pod.

The shared build, fall-back and download flow is in ppdesk.tools.grid_tool.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Optional, Tuple

from ppdesk.tools.base import ToolContext
from ppdesk.tools.common import AgentRequest
from ppdesk.tools.grid_tool import GridTool
from ppdesk.tools.local_grid import LocalGrid, build_dataset_grid_locally
from ppdesk.tools.workspace import ConfigEntry


class DatasetGrid(GridTool):
    """Compose up to ``options.dataset_limit`` training images into one grid and fetch it.

    Status: ``skipped`` without a local dataset, ``warning`` for unreadable
    images, agent warnings or a different local grid kept, ``failed`` when
    the pod cannot build the grid or the download fails.
    """

    key: ClassVar[str] = "dg"
    title: ClassVar[str] = "Dataset grid"
    noun: ClassVar[str] = "dataset grid"
    skip_kinds: ClassVar[Tuple[str, ...]] = ("no_datasets", "no_images")
    bad_key: ClassVar[str] = "bad_images"

    def skip_reason(self, config: ConfigEntry) -> Optional[str]:
        if config.datasets:
            return None
        reasons = "; ".join(f"{item.get('id')}: {item.get('reason')}" for item in config.skipped_datasets)
        return "no local dataset folder" + (f" ({reasons})" if reasons else "")

    def build_request(self, ctx: ToolContext, config: ConfigEntry) -> AgentRequest:
        return AgentRequest("dataset_grid", {"config": config.name, "limit": ctx.options.dataset_limit})

    def build_here(self, ctx: ToolContext, config: ConfigEntry) -> LocalGrid:
        return build_dataset_grid_locally(ctx, self.key, config)

    def summarise(self, data: Dict[str, Any], bad: int) -> str:
        message = (
            f"{data.get('images', 0)} of {data.get('total_images', 0)} images, "
            f"{data.get('width', 0)}x{data.get('height', 0)} px"
        )
        if bad:
            message += f", {bad} unreadable"
        return message

    def grid_details(self, data: Dict[str, Any], bad: int, common: Dict[str, Any]) -> Dict[str, Any]:
        details = {key: data.get(key) for key in ("grid", "width", "height", "images", "total_images")}
        details["bad_images"] = bad
        details.update(common)
        return details
