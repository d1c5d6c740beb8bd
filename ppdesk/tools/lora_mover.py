"""LoRA mover tool (key ``lm``): copies checkpoint weights into ComfyUI on the pod."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any, ClassVar, Dict, List, Optional, Tuple

from ppdesk.cancel import Cancelled, CancelToken
from ppdesk.remote.errors import AgentError, TransportError
from ppdesk.tools.base import Status, Tool, ToolContext, ToolResult
from ppdesk.tools.common import AgentRequest, announce, name_items, plural, run_request
from ppdesk.tools.lora_finished import FinishedFiles
from ppdesk.tools.workspace import ConfigEntry

log = logging.getLogger(__name__)

# Seconds the pod may take to delete the partial copy after a cancel before the tool gives up.
CLEANUP_TIMEOUT = 15.0


class LoraMover(Tool):
    """Run the agent's ``move_loras`` for one config and report copies and conflicts.

    The agent reports bytes while it copies large files, so progress moves
    during a long copy. Status: ``skipped`` without an output folder,
    ``warning`` when nothing could be moved or a destination held other
    bytes, ``failed`` when a copy failed, ``cancelled`` after a cancel.

    ``progress_interval`` sets the minimum seconds between two byte progress
    lines of the agent; None keeps the agent's default.
    """

    key: ClassVar[str] = "lm"
    title: ClassVar[str] = "LoRA mover"

    def __init__(self, progress_interval: Optional[float] = None) -> None:
        self.progress_interval = progress_interval

    def build_request(self, ctx: ToolContext, config: ConfigEntry) -> AgentRequest:
        args: Dict[str, Any] = {"config": config.name}
        if self.progress_interval is not None:
            args["progress_interval"] = self.progress_interval
        return AgentRequest("move_loras", args)

    def execute(self, ctx: ToolContext, config: ConfigEntry) -> ToolResult:
        if not config.output_exists:
            return ToolResult(self.key, config.name, Status.SKIPPED, f"no output folder ({config.output or 'not set'})")
        if not config.checkpoints and not config.final_weights:
            return ToolResult(self.key, config.name, Status.WARNING, "no complete checkpoint and no final weights to move")

        announce(ctx, self.key, config, "copying LoRA weights")
        finished = FinishedFiles()
        watched = replace(ctx, progress=finished.watch(ctx.progress))
        try:
            data = run_request(watched, self.key, config, self.build_request(ctx, config))
        except Cancelled:
            return self.cancelled_result(ctx, config, finished)
        except TransportError as exc:
            if isinstance(exc, AgentError) and exc.kind == "no_output":
                return ToolResult(self.key, config.name, Status.SKIPPED, exc.message)
            # Ctrl-C in a terminal also stops the agent, whose exit then shows as a lost connection.
            if ctx.cancel.cancelled:
                return self.cancelled_result(ctx, config, finished)
            raise
        return self.read_result(config, data)

    def cancelled_result(self, ctx: ToolContext, config: ConfigEntry, finished: FinishedFiles) -> ToolResult:
        """Delete the partial copy that a cancel may have left on the pod and return the cancelled result.

        The message names the files finished before the cancel, from the
        agent's progress lines, and the temporary files deleted afterwards.
        A cancel kills a local agent process at once, which leaves its
        temporary file behind. On a pod the closed channel makes the agent's
        next progress line fail, and the agent deletes its own file, so this
        cleanup may find nothing. The cleanup runs under a token of its own,
        because the run's token is already set, and gives up after
        CLEANUP_TIMEOUT seconds. What it cannot delete, the next mover run
        on this config deletes.
        """
        folder, removed = self.remove_partial_copies(ctx, config)
        copied = finished.paths("copied", folder)
        details = {
            "copied": copied,
            "skipped": finished.paths("skipped", folder),
            "conflicts": finished.paths("conflict", folder),
            "failed": finished.paths("failed", folder),
            "folder": folder,
            "removed_temporaries": removed,
        }
        message = finished.summary([_base_name(path) for path in removed], folder)
        return ToolResult(self.key, config.name, Status.CANCELLED, message, remote_files=copied, details=details)

    def remove_partial_copies(self, ctx: ToolContext, config: ConfigEntry) -> Tuple[Optional[str], List[str]]:
        """Ask the agent to delete the config's leftover temporary files.

        Returns the config's folder below the loras folder and the pod paths
        of the deleted files. A failure is logged and returns (None, []).
        """
        token = CancelToken()
        timer = threading.Timer(CLEANUP_TIMEOUT, token.cancel)
        timer.daemon = True
        timer.start()
        request = {"config": config.name, "cleanup_only": True}
        try:
            data = ctx.transport.run_agent("move_loras", request, cancel=token)
        except (TransportError, Cancelled, OSError) as exc:
            log.warning(
                "deleting the partial LoRA copy of %s after the cancel failed: %s; the next mover run on that config deletes it",
                config.name,
                exc,
            )
            return None, []
        finally:
            timer.cancel()
        data = data or {}
        folder = data.get("folder")
        return (str(folder) if folder else None), [str(path) for path in data.get("removed_temporaries") or []]

    def read_result(self, config: ConfigEntry, data: Dict[str, Any]) -> ToolResult:
        copied = list(data.get("copied") or [])
        skipped = list(data.get("skipped") or [])
        conflicts = list(data.get("conflicts") or [])
        errors = list(data.get("errors") or [])
        removed = [str(path) for path in data.get("removed_temporaries") or []]

        parts = [f"{plural(len(copied), 'file')} copied", f"{len(skipped)} already present"]
        if conflicts:
            names = name_items([_base_name(item.get("dest") or item.get("source") or "?") for item in conflicts])
            parts.append(f"{plural(len(conflicts), 'conflict')} left unchanged: {names}")
        if errors:
            parts.append(f"{plural(len(errors), 'error')}: {name_items([str(item.get('message', '')) for item in errors])}")
        if removed:
            parts.append(f"removed {plural(len(removed), 'leftover temporary file')} of an interrupted copy")
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
            "removed_temporaries": removed,
        }
        return ToolResult(self.key, config.name, status, message, remote_files=copied, details=details)


def _base_name(path: str) -> str:
    """Return the last segment of a pod path, whichever separator the pod uses."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]
