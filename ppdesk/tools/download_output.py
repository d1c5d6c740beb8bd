"""Download output tool (key ``do``): the output folder with the newest checkpoint's weights only."""

from __future__ import annotations

from typing import ClassVar, Optional

from ppdesk.tools.base import Status, ToolContext, ToolResult
from ppdesk.tools.downloads import PlannedDownload
from ppdesk.tools.workspace import ConfigEntry
from ppdesk.transfer.report import TransferReport


class DownloadOutput(PlannedDownload):
    """Download the output folder into ``<dest>/<config name>/output/``.

    The pod's plan leaves out every ``checkpoint-*`` folder except the
    weight files of the newest complete checkpoint, so optimizer and RNG
    state stay on the pod. A config without any complete checkpoint ends
    with ``warning``.
    """

    key: ClassVar[str] = "do"
    title: ClassVar[str] = "Download output"
    kind: ClassVar[str] = "output"

    def skip_reason(self, config: ConfigEntry) -> Optional[str]:
        if not config.output_exists:
            return f"no output folder ({config.output or 'not set'})"
        return None

    def read_result(self, ctx: ToolContext, config: ConfigEntry, plan: dict, report: TransferReport) -> ToolResult:
        result = super().read_result(ctx, config, plan, report)
        if config.newest_checkpoint is None:
            result.message += "; no complete checkpoint, so no checkpoint weights"
            if result.status is Status.OK:
                result.status = Status.WARNING
        return result
