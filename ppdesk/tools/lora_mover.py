"""LoRA mover tool (key ``lm``): copies checkpoint weights into ComfyUI on the pod."""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Dict

from ppdesk.remote.errors import AgentError
from ppdesk.tools.base import Status, Tool, ToolContext, ToolResult
from ppdesk.tools.common import AgentRequest, announce, name_items, plural, run_request
from ppdesk.tools.workspace import ConfigEntry

log = logging.getLogger(__name__)


class LoraMover(Tool):
    """Run the agent's ``move_loras`` for one config and report copies and conflicts.

    Status: ``skipped`` without an output folder, ``warning`` when nothing
    could be moved or a destination held other bytes, ``failed`` when a
    copy failed.
    """

    key: ClassVar[str] = "lm"
    title: ClassVar[str] = "LoRA mover"

    def build_request(self, ctx: ToolContext, config: ConfigEntry) -> AgentRequest:
        return AgentRequest("move_loras", {"config": config.name})

    def execute(self, ctx: ToolContext, config: ConfigEntry) -> ToolResult:
        if not config.output_exists:
            return ToolResult(self.key, config.name, Status.SKIPPED, f"no output folder ({config.output or 'not set'})")
        if not config.checkpoints and not config.final_weights:
            return ToolResult(self.key, config.name, Status.WARNING, "no complete checkpoint and no final weights to move")

        announce(ctx, self.key, config, "copying LoRA weights")
        try:
            data = run_request(ctx, self.key, config, self.build_request(ctx, config))
        except AgentError as exc:
            if exc.kind == "no_output":
                return ToolResult(self.key, config.name, Status.SKIPPED, exc.message)
            raise
        return self.read_result(config, data)

    def read_result(self, config: ConfigEntry, data: Dict[str, Any]) -> ToolResult:
        copied = list(data.get("copied") or [])
        skipped = list(data.get("skipped") or [])
        conflicts = list(data.get("conflicts") or [])
        errors = list(data.get("errors") or [])

        parts = [f"{plural(len(copied), 'file')} copied", f"{len(skipped)} already present"]
        if conflicts:
            names = name_items([_base_name(item.get("dest") or item.get("source") or "?") for item in conflicts])
            parts.append(f"{plural(len(conflicts), 'conflict')} left unchanged: {names}")
        if errors:
            parts.append(f"{plural(len(errors), 'error')}: {name_items([str(item.get('message', '')) for item in errors])}")
        folder = data.get("folder") or data.get("loras_dir") or ""
        message = ", ".join(parts) + (f" in {folder}" if folder else "")

        if errors:
            status = Status.FAILED
        elif conflicts:
            status = Status.WARNING
        else:
            status = Status.OK
        details = {
            "copied": copied,
            "skipped": skipped,
            "conflicts": conflicts,
            "errors": errors,
            "loras_dir": data.get("loras_dir"),
            "folder": data.get("folder"),
        }
        return ToolResult(self.key, config.name, status, message, remote_files=copied, details=details)


def _base_name(path: str) -> str:
    """Return the last segment of a pod path, whichever separator the pod uses."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]
