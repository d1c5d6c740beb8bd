"""Pieces the five tools share: agent requests, progress forwarding, local folders.

A tool builds an :class:`AgentRequest` from a config (pure, no I/O), runs it
with :func:`run_request`, and reads the result data into a ToolResult.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence

from ppdesk.cancel import Cancelled
from ppdesk.remote.errors import ConnectionFailed, ConnectionLost, HostKeyError
from ppdesk.tools.base import ProgressEvent, Status, ToolContext
from ppdesk.tools.workspace import ConfigEntry
from ppdesk.transfer.engine import download
from ppdesk.transfer.plan import PlannedFile, safe_join
from ppdesk.transfer.report import TransferProgress, TransferReport

log = logging.getLogger(__name__)

# Agent operations that only read the pod, so running one again after a lost
# connection cannot do anything twice. The mover and the grid builds write.
READ_ONLY_OPS = frozenset({"scan", "plan_download", "hash_files", "list_samples"})
# Retries of a read-only request after a lost connection, and the first wait
# in seconds, doubled per retry (0.5, 1, 2 s), as the transfer engine does.
REQUEST_RETRIES = 3
REQUEST_BACKOFF = 0.5


@dataclass(frozen=True)
class AgentRequest:
    """One agent operation and its JSON arguments, built before anything runs."""

    op: str
    args: Dict[str, Any] = field(default_factory=dict)


def run_request(ctx: ToolContext, tool: str, config: ConfigEntry, request: AgentRequest) -> Any:
    """Run ``request`` through the context's transport and return the result data.

    Agent progress lines become ProgressEvents for ``tool`` and ``config``;
    agent warnings are logged. A read-only request (READ_ONLY_OPS) runs
    again after a lost connection, up to REQUEST_RETRIES times, because the
    transport reconnects on its next call. Raises AgentError, ConnectionLost
    or Cancelled as the transport does.
    """

    def forward(event: Dict[str, Any]) -> None:
        if event.get("type") == "warning":
            log.warning("%s on %s: %s", tool, config.name, event.get("message", ""))
            return
        finished = event.get("finished") if isinstance(event.get("finished"), dict) else {}
        ctx.progress(
            ProgressEvent(
                tool=tool,
                config=config.name,
                message=str(event.get("message", "")),
                done=int(event.get("done") or 0),
                total=int(event.get("total") or 0),
                unit="bytes" if event.get("unit") == "bytes" else "items",
                phase=str(event.get("phase") or ""),
                finished_name=str(finished.get("name") or ""),
                finished_outcome=str(finished.get("outcome") or ""),
            )
        )

    attempt = 0
    while True:
        ctx.cancel.raise_if_cancelled()
        log.debug("%s on %s: agent op %s %s", tool, config.name, request.op, request.args)
        try:
            return ctx.transport.run_agent(request.op, request.args, on_event=forward, cancel=ctx.cancel)
        except (ConnectionLost, ConnectionFailed) as exc:
            attempt += 1
            if request.op not in READ_ONLY_OPS or isinstance(exc, HostKeyError) or attempt > REQUEST_RETRIES:
                raise
            delay = REQUEST_BACKOFF * 2 ** (attempt - 1)
            log.warning("%s on %s: %s while running %s; retry %d of %d in %.1f s",
                        tool, config.name, exc, request.op, attempt, REQUEST_RETRIES, delay)
            if ctx.cancel.wait(delay):
                raise Cancelled() from exc


def local_folder(ctx: ToolContext, config: ConfigEntry, part: str) -> Path:
    """Return ``<dest>/<config name>/<part>``, keeping a nested name as nested folders.

    Raises ValueError when the config name could leave the destination
    (``..``, an absolute path, a backslash).
    """
    return safe_join(ctx.dest, f"{config.name}/{part}")


def announce(ctx: ToolContext, tool: str, config: ConfigEntry, message: str) -> None:
    """Send a progress event that only names the current step."""
    ctx.progress(ProgressEvent(tool=tool, config=config.name, message=message))


def plural(count: int, noun: str) -> str:
    """Return ``"1 file"`` or ``"3 files"``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# The number of items a one-line summary names before it adds "and N more".
SUMMARY_ITEMS = 3


def name_items(items: Sequence[str], limit: int = SUMMARY_ITEMS) -> str:
    """Join up to ``limit`` items with commas and add "and N more" for the rest.

    Returns "" for an empty sequence. Result messages use this so that a
    table row names the first few files; ``details`` keeps the full list.
    """
    named = ", ".join(items[:limit])
    hidden = len(items) - limit
    return f"{named} and {hidden} more" if hidden > 0 else named


def download_files(
    ctx: ToolContext, tool: str, config: ConfigEntry, files: List[PlannedFile], dest_root: Path
) -> TransferReport:
    """Download ``files`` below ``dest_root`` with the transfer engine, reporting bytes.

    The engine verifies size (and SHA-256 when planned), never replaces a
    different local file and writes final names only when complete. Raises
    Cancelled when the context's token was set during the download.
    """
    def forward(progress: TransferProgress) -> None:
        ctx.progress(
            ProgressEvent(
                tool=tool,
                config=config.name,
                message=f"downloading {progress.rel}",
                done=progress.done_bytes,
                total=progress.total_bytes,
                unit="bytes",
                file=progress.rel,
                file_done=progress.file_done,
                file_total=progress.file_total,
            )
        )

    report = download(
        ctx.transport, files, dest_root, jobs=ctx.options.jobs, on_progress=forward, cancel=ctx.cancel
    )
    if ctx.cancel.cancelled or report.cancelled:
        raise Cancelled("cancelled by the user")
    return report


def transfer_status(report: TransferReport) -> Status:
    """Map a download report to a tool status: failed files fail, conflicts warn."""
    if report.failed:
        return Status.FAILED
    if report.conflicts:
        return Status.WARNING
    return Status.OK


def transfer_details(report: TransferReport) -> Dict[str, Any]:
    """Return the report's per-file outcomes as JSON-ready lists."""
    return {
        "downloaded": [outcome.rel for outcome in report.downloaded],
        "skipped": [outcome.rel for outcome in report.skipped],
        "conflicts": [{"rel": o.rel, "message": o.message} for o in report.conflicts],
        "failed": [{"rel": o.rel, "message": o.message} for o in report.failed],
        "bytes": report.bytes_fetched,
    }


def count(value: Any) -> int:
    """Return ``len(value)`` for a list, else ``int(value)``; 0 for None or junk.

    Grid results report rows and columns either as counts or as label lists.
    """
    if isinstance(value, (list, tuple)):
        return len(value)
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
