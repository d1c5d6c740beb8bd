"""The post-process orchestrator: the five tools in order on every config of a selection."""

from __future__ import annotations

import logging
from typing import Callable, Dict, List, Optional, Sequence, Type

from ppdesk.tools.base import Status, Tool, ToolContext, ToolResult
from ppdesk.tools.common import plural
from ppdesk.tools.workspace import ConfigEntry

log = logging.getLogger(__name__)

ResultCallback = Callable[[ToolResult], None]
StartCallback = Callable[[str, str], None]
# The name of a run of all five tools in ORDER. Any other run is named by its tools' titles.
POST_PROCESS_TITLE = "Post-process"


class PostProcess:
    """Run tools config by config, each tool in ``keys`` order.

    A failed tool does not stop the others. Once the context's cancel token
    is set, the running tool stops and every remaining (tool, config) pair
    is reported as ``cancelled``. Synchronous: call :meth:`run` from a
    worker thread in the GUI.
    """

    def __init__(self, keys: Optional[Sequence[str]] = None, registry: Optional[Dict[str, Type[Tool]]] = None) -> None:
        from ppdesk.tools import ORDER, TOOLS

        self.registry = dict(registry or TOOLS)
        self.keys = list(keys or ORDER)
        unknown = [key for key in self.keys if key not in self.registry]
        if unknown:
            raise ValueError(f"unknown tool {unknown[0]!r}; known tools: {', '.join(self.registry)}")

    @property
    def title(self) -> str:
        """The run's name: "Post-process" for the five tools in order, else the tools' titles.

        A single tool gives its own title ("Validation grid"); several give
        their titles joined by commas.
        """
        from ppdesk.tools import ORDER

        if self.keys == ORDER:
            return POST_PROCESS_TITLE
        return ", ".join(self.registry[key].title for key in self.keys)

    def run(
        self,
        ctx: ToolContext,
        configs: Sequence[ConfigEntry],
        on_result: Optional[ResultCallback] = None,
        on_start: Optional[StartCallback] = None,
    ) -> List[ToolResult]:
        """Run every tool on every config and return the results in run order.

        ``on_start(tool key, config name)`` is called before each tool and
        ``on_result(result)`` after it, both on the calling thread.
        """
        log.info("%s started on %s", self.title, plural(len(configs), "config"))
        results: List[ToolResult] = []
        for config in configs:
            for key in self.keys:
                if ctx.cancel.cancelled:
                    result = ToolResult(key, config.name, Status.CANCELLED, "cancelled before it started")
                else:
                    if on_start is not None:
                        on_start(key, config.name)
                    result = self._run_one(key, ctx, config)
                    explain_unreadable_config(result, config)
                    if ctx.cancel.cancelled:
                        mark_interrupted(result)
                results.append(result)
                if on_result is not None:
                    on_result(result)
        log.info("%s finished on %s: %s", self.title, plural(len(configs), "config"), count_statuses(results))
        return results

    def _run_one(self, key: str, ctx: ToolContext, config: ConfigEntry) -> ToolResult:
        tool = self.registry[key]()
        try:
            return tool.run(ctx, config)
        # Tool.run turns transport, file and cancel errors into results. Anything
        # else (a malformed agent result, a bug) fails this tool only, so that
        # the remaining tools and configs still run.
        except Exception as exc:  # noqa: BLE001
            log.exception("%s crashed on %s", tool.title, config.name)
            return ToolResult(key, config.name, Status.FAILED, f"internal error: {type(exc).__name__}: {exc}")


def explain_unreadable_config(result: ToolResult, config: ConfigEntry) -> None:
    """Name the config file's error in a skip message that would hide it.

    A config file that cannot be parsed leaves the scan without its settings,
    so a tool skips with "no output folder (not set)" or "no local dataset
    folder". The scan's error is the cause, so it replaces the message; the
    tool's own reason moves to ``details["skip_reason"]``.
    """
    if result.status is not Status.SKIPPED:
        return
    error = _config_error(config)
    if error is None:
        return
    result.details.setdefault("skip_reason", result.message)
    result.message = f"config could not be read: {error}; fix the file and run again"


# The start of the one scan error that is about the output folder, not the config file.
_OUTPUT_READ_ERROR = "failed to read output folder"


def _config_error(config: ConfigEntry) -> Optional[str]:
    """Return the scan's first error about the config file itself, or None."""
    for error in config.errors:
        if not error.startswith(_OUTPUT_READ_ERROR):
            return error
    return None


# The message Tool.run gives a tool that stopped by raising Cancelled.
_BARE_CANCEL_MESSAGE = "cancelled"


def mark_interrupted(result: ToolResult) -> None:
    """Reword the result of the tool that was running when the user cancelled.

    A tool that finished (ok, warning, skipped) keeps its result, and so
    does a cancelled result whose message the tool wrote itself, such as the
    LoRA mover's list of files copied before the cancel. A failure becomes
    ``cancelled`` because Ctrl-C in a terminal also stops the agent process,
    and its exit makes the running tool fail. The failure text stays in
    ``details["error"]``.
    """
    if result.status is Status.FAILED:
        result.details.setdefault("error", result.message)
    elif result.status is not Status.CANCELLED or result.message != _BARE_CANCEL_MESSAGE:
        return
    result.status = Status.CANCELLED
    result.message = "cancelled while running; run it again to finish"


def count_statuses(results: Sequence[ToolResult]) -> str:
    """Return the number of results per status in order of first appearance: ``"2 ok, 1 warning, 3 failed"``.

    "warning" is a noun and takes the plural ("2 warnings"). The other
    statuses read as adjectives and stay as they are ("2 failed").
    """
    counts: Dict[Status, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    parts = [
        plural(count, status.value) if status is Status.WARNING else f"{count} {status.value}"
        for status, count in counts.items()
    ]
    return ", ".join(parts) or "nothing to do"
