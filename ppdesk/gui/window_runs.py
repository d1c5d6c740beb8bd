"""Run handling of the main window: start tool runs, show their progress and results, cancel them."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Tuple

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QMessageBox, QSystemTrayIcon

from ppdesk.gui.banner import CAUSE_CONNECTION, CAUSE_DESTINATION, CAUSE_RUN, CAUSE_SELECTION
from ppdesk.gui.destination import DestinationError, prepare_destination
from ppdesk.gui.workers import Worker
from ppdesk.tools import needs_destination
from ppdesk.tools.base import ProgressEvent, Status, ToolContext, ToolOptions, ToolResult
from ppdesk.tools.common import plural
from ppdesk.tools.postprocess import count_statuses

if TYPE_CHECKING:
    from ppdesk.tools.workspace import ConfigEntry

log = logging.getLogger(__name__)

# A run longer than this ends with a tray notification, when a tray exists.
TRAY_NOTICE_AFTER_S = 30.0
GRID_TOOLS = ("vg", "dg")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


class WindowRunsMixin:
    """Tool runs of :class:`MainWindow`: one run at a time, its rows in the results table.

    A mixin for :class:`~ppdesk.gui.main_window.MainWindow` only: it uses
    the window's widgets, worker pool, state and signals. The tools run in
    a worker, and the slots run on the GUI thread.
    """

    @Slot()
    def run_post_process(self) -> None:
        from ppdesk.tools import ORDER

        self.run_tools(list(ORDER))

    def run_tools(
        self, keys: Sequence[str], title: Optional[str] = None, configs: Optional[List["ConfigEntry"]] = None
    ) -> Optional[Worker]:
        """Run the tools ``keys`` in order on ``configs`` (default: the selection), in a worker.

        Returns the worker, or None when the run cannot start (the banner
        shows why).
        """
        from ppdesk.tools.postprocess import PostProcess

        blocker = self._run_blocker(keys)
        if blocker is not None:
            problem, cause = blocker
            self.banner.show_message(problem, cause=cause)
            return None
        try:
            if configs is None:
                configs = self.selection.selected_configs()
        except ValueError as exc:
            self.banner.show_message(str(exc))
            return None
        if not configs:
            self.banner.show_message("The selection has no configs; choose a family or config.", cause=CAUSE_SELECTION)
            return None

        transport = self._transport
        dest = Path(self.destination).expanduser()
        runner = PostProcess(list(keys))
        title = title or runner.title
        options = ToolOptions(include_base=self.include_base_box.isChecked())

        writes_locally = needs_destination(keys)

        def job(token: Any, report: Callable[[Any], None]) -> List[ToolResult]:
            # Before any tool, so a bad destination is one error instead of one per file.
            if writes_locally:
                prepare_destination(dest)
            ctx = ToolContext(transport=transport, dest=dest, progress=report, cancel=token, options=options)

            def started(key: str, config: str) -> None:
                report(ProgressEvent(tool=key, config=config, message=f"{self.titles.get(key, key)} started"))

            return runner.run(ctx, configs, on_result=worker.publish, on_start=started)

        worker = Worker(job, name=f"{title} on {plural(len(configs), 'config')}")
        worker.signals.progress.connect(self._on_run_progress)
        worker.signals.partial.connect(self._on_run_result)
        worker.signals.error.connect(self._on_run_error)
        worker.signals.finished.connect(self._on_run_finished)

        self.banner.hide()
        self._results_workspace = self._workspace_key()
        self.results.begin_run(title, describe_configs(configs))
        self._run_worker = worker
        self._run_keys = list(keys)
        self._run_title = title
        self._run_options = options
        self._run_results = []
        self._run_error = None
        self._run_started = time.monotonic()
        self.progress.begin(title, steps=len(keys) * len(configs))
        self._set_status("running", f"{title} running on {plural(len(configs), 'config')}")
        if self.destination:
            self.state.destination = str(dest)
        self.pool.submit(worker)
        self._update_enabled()
        return worker

    def _run_blocker(self, keys: Sequence[str]) -> Optional[Tuple[str, str]]:
        """Return (message, banner cause) when a run of the tools ``keys`` cannot start now, else None."""
        if self._run_worker is not None:
            return "A run is in progress; wait for it or cancel it.", CAUSE_RUN
        if self._transport is None or self._scan is None:
            return "Connect to a workspace first (File > Connect, or File > Open demo workspace).", CAUSE_CONNECTION
        if not self.destination and needs_destination(keys):
            return (
                "Choose a destination folder first (the Choose... button, or drop a folder on the window).",
                CAUSE_DESTINATION,
            )
        return None

    @Slot()
    def cancel_run(self) -> None:
        if self._run_worker is not None:
            log.info("cancelling %s", self._run_worker.name)
            self._run_worker.cancel()

    @Slot(object)
    def _on_run_progress(self, event: Any) -> None:
        if isinstance(event, ProgressEvent):
            self.progress.update_progress(event)
            self.runProgress.emit(event)

    @Slot(object)
    def _on_run_result(self, result: ToolResult) -> None:
        if result.tool == "vg" and result.details.get("base_samples_left_out") and not self._run_options.include_base:
            result.message += "; tick Include base model row to add them"
        self._run_results.append(result)
        self.results.add_result(result)
        self.progress.step_finished()

    @Slot(str)
    def _on_run_error(self, message: str) -> None:
        self._run_error = message
        failure = self._run_worker.exception if self._run_worker is not None else None
        if isinstance(failure, DestinationError):
            self.banner.show_message(message, cause=CAUSE_DESTINATION)
        else:
            self.banner.show_message(f"The run stopped: {message}")

    @Slot()
    def _on_run_finished(self) -> None:
        self._run_worker = None
        if self._quit_question is not None:
            # The user asked to quit and was only asked because of this run.
            self._quit_question.done(QMessageBox.StandardButton.Yes)
        self.progress.finish()
        self.banner.resolve(CAUSE_RUN)
        results = list(self._run_results)
        elapsed = time.monotonic() - self._run_started
        self._set_status("connected" if self._transport else "disconnected", self._connected_text())
        summary = self._show_run_summary(results)
        if elapsed > TRAY_NOTICE_AFTER_S:
            self._notify(f"ppdesk: {self._run_title} finished", summary)
        self._update_enabled()
        if any(key in GRID_TOOLS for key in self._run_keys):
            grids = grid_files(results)
            self.grid_history = [path for path in self.grid_history if path not in grids] + grids
            if grids:
                self.show_images(grids)
        self.runFinished.emit(results)

    def _show_run_summary(self, results: List[ToolResult]) -> str:
        """Show the ended run's status counts in its header row, the status bar and, after failures, the banner.

        Returns the counts. A run that an error stopped keeps the banner
        showing that error.
        """
        summary = count_statuses(results)
        failed = sum(1 for r in results if r.status is Status.FAILED)
        if self._run_error is not None:
            summary = f"{summary}, then stopped" if results else "not started"
            self.results.end_run(summary, max(failed, 1))
        else:
            self.results.end_run(summary, failed)

        if self._run_error is not None and not results:
            self.statusBar().showMessage(f"{self._run_title} did not start: {self._run_error}", 15000)
        else:
            self.statusBar().showMessage(f"{self._run_title} finished: {summary}", 15000)

        if failed and self._run_error is None and not self.banner.isVisible():
            rows = "the red row shows why" if failed == 1 else "the red rows show why"
            self.banner.show_message(f"{self._run_title}: {plural(failed, 'tool')} failed ({summary}); {rows}.")
        return summary

    @Slot()
    def clear_results(self) -> None:
        """Remove every run's rows from the results table; does nothing while a run is active."""
        if self._run_worker is not None:
            return
        self.results.clear_results()
        self._results_workspace = None
        self._update_enabled()

    @Slot(object)
    def _on_result_activated(self, result: ToolResult) -> None:
        images = [Path(p) for p in result.local_files if p.lower().endswith(IMAGE_SUFFIXES)]
        if images:
            self.show_images(images)

    def _notify(self, title: str, message: str) -> None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        if self._tray is None:
            self._tray = QSystemTrayIcon(self.windowIcon(), self)
        self._tray.show()
        self._tray.showMessage(title, message, QSystemTrayIcon.MessageIcon.Information, 8000)


def describe_configs(configs: Sequence["ConfigEntry"]) -> str:
    """Return what a run works on, for its header row: one config's name, else a count and family.

    ``"sofia_001_lr1e-4"``, ``"3 configs of sofia"``, or ``"4 configs"``
    when they come from several families.
    """
    if len(configs) == 1:
        return configs[0].name
    families = {entry.family for entry in configs}
    if len(families) == 1:
        return f"{plural(len(configs), 'config')} of {families.pop()}"
    return plural(len(configs), "config")


def grid_files(results: List[ToolResult]) -> List[Path]:
    """Return the grid images that the finished grid tools among ``results`` wrote on this machine."""
    grids: List[Path] = []
    for result in results:
        if result.tool not in GRID_TOOLS or result.status not in (Status.OK, Status.WARNING):
            continue
        grids += [Path(p) for p in result.local_files if p.lower().endswith(IMAGE_SUFFIXES)]
    return grids
