"""Terminal output of the command line: a progress bar on stderr and result tables."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, List, Optional

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from ppdesk.tools.base import ProgressEvent, Status, ToolResult
from ppdesk.units import format_bytes

if TYPE_CHECKING:
    from ppdesk.tools.workspace import WorkspaceScan

STATUS_STYLES = {
    Status.OK: "green",
    Status.WARNING: "yellow",
    Status.FAILED: "bold red",
    Status.SKIPPED: "dim",
    Status.CANCELLED: "magenta",
}


class ProgressBar:
    """A one-line rich progress bar on stderr: current tool, config and bytes or items.

    :meth:`update` may be called from any thread (the download engine's
    workers call it); rich serialises the updates.
    """

    def __init__(self, console: Optional[Console] = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[amount]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self._task: Optional[TaskID] = None
        self._lock = threading.Lock()

    def __enter__(self) -> "ProgressBar":
        self._progress.start()
        self._task = self._progress.add_task("starting", total=None, amount="")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def start_tool(self, tool: str, config: str) -> None:
        """Reset the bar for the next tool run."""
        self._set(f"[bold]{tool}[/bold] {config}", completed=0, total=None, amount="")

    def update(self, event: ProgressEvent) -> None:
        """Show one ProgressEvent: bytes as ``1.5 MiB of 3.0 MiB``, items as ``done/total``."""
        description = f"[bold]{event.tool}[/bold] {event.config}: {event.message}"
        total = event.total or None
        if event.unit == "bytes" and event.total:
            amount = f"{format_bytes(event.done)} of {format_bytes(event.total)}"
        elif event.unit == "bytes":
            amount = format_bytes(event.done)
        elif event.total:
            amount = f"{event.done}/{event.total}"
        else:
            amount = ""
        self._set(description, completed=event.done, total=total, amount=amount)

    def _set(self, description: str, completed: int, total: Optional[int], amount: str) -> None:
        if self._task is None:
            return
        with self._lock:
            self._progress.update(self._task, description=description, completed=completed, total=total, amount=amount)


def results_table(results: List[ToolResult]) -> Table:
    """Return the end-of-run summary: one row per tool and config."""
    table = Table(title="ppdesk results")
    table.add_column("tool")
    table.add_column("config")
    table.add_column("status")
    table.add_column("message", overflow="fold")
    for result in results:
        style = STATUS_STYLES.get(result.status, "")
        table.add_row(result.tool, result.config, f"[{style}]{result.status.value}[/{style}]", result.message)
    return table


def scan_table(scan: "WorkspaceScan") -> Table:
    """Return the scan overview: one row per config."""
    table = Table(title="configs")
    for column in ("config", "family", "model", "checkpoints", "newest", "samples", "datasets", "output", "problems"):
        table.add_column(column)
    for entry in scan.configs:
        if entry.output is None:
            output = "not set"
        elif entry.output_exists:
            output = "present"
        else:
            output = "missing"
        table.add_row(
            entry.name,
            entry.family,
            entry.model_family or "",
            str(len(entry.checkpoints)),
            "" if entry.newest_checkpoint is None else str(entry.newest_checkpoint),
            str(entry.validation_samples),
            str(len(entry.datasets)),
            output,
            "; ".join(entry.errors + entry.warnings),
        )
    return table
