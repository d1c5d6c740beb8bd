"""The Qt half of ``ppdesk --self-test`` (see :mod:`ppdesk.selftest`).

Qt may be imported only inside ``ppdesk.gui``, so the event-driven steps
live here: open a window, scan in a worker, build the validation grid in a
worker, load the grid into the viewer, and stop the event loop. A single-shot
timer ends the run with a failure when a step takes too long.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtGui import QImageReader
from PySide6.QtWidgets import QApplication, QMainWindow

from ppdesk.gui.viewer.image_view import ImageView
from ppdesk.gui.viewer.loader import ImageLoader, LoadedImage
from ppdesk.gui.workers import WorkerPool
from ppdesk.tools.base import Status, ToolContext, ToolResult
from ppdesk.tools.validation_grid import ValidationGrid
from ppdesk.tools.workspace import ConfigEntry, WorkspaceScan, scan_workspace

if TYPE_CHECKING:
    from ppdesk.cancel import CancelToken
    from ppdesk.remote.transport import Transport
    from ppdesk.selftest import SelfTestOutcome

log = logging.getLogger(__name__)

# Qt image formats the viewer needs from the bundled image plugins.
REQUIRED_IMAGE_FORMATS = (b"jpeg", b"png")
# Time the worker pool gets to wind down after the last step or a failure.
SHUTDOWN_WAIT_MS = 5000


def run_gui_steps(transport: "Transport", dest: Path, timeout_s: float, outcome: "SelfTestOutcome") -> None:
    """Run the window, scan, grid and viewer steps, recording them in ``outcome``.

    Blocks in the Qt event loop until the last step passes, one fails, or
    ``timeout_s`` seconds pass. Creates the QApplication when none exists.
    """
    app = QApplication.instance() or QApplication([sys.argv[0], "-name", "ppdesk"])
    driver = SelfTestDriver(transport, dest, timeout_s, outcome)
    QTimer.singleShot(0, driver.start)
    app.exec()
    driver.shut_down()


class SelfTestDriver(QObject):
    """Chain the self-test steps through worker and loader signals on the GUI thread."""

    def __init__(self, transport: "Transport", dest: Path, timeout_s: float, outcome: "SelfTestOutcome") -> None:
        super().__init__()
        self.transport = transport
        self.dest = dest
        self.outcome = outcome
        self.step = "window"
        self.expected_size: Optional[tuple[int, int]] = None

        self.pool = WorkerPool(max_threads=2, parent=self)
        self.loader = ImageLoader(self)
        self.loader.loaded.connect(self._on_image_loaded)
        self.loader.failed.connect(self._on_image_failed)

        # TODO: drive ppdesk.gui.main_window.MainWindow (its scan, tool run
        # and viewer) once it exists. Until then this window contains the viewer
        # widget alone, so the main window's own wiring is not covered.
        self.window = QMainWindow()
        self.window.setWindowTitle("ppdesk self-test")
        self.view = ImageView(self.window)
        self.window.setCentralWidget(self.view)
        self.window.resize(800, 600)

        self.deadline = QTimer(self)
        self.deadline.setSingleShot(True)
        self.deadline.setInterval(round(timeout_s * 1000))
        self.deadline.timeout.connect(lambda: self._fail(f"timed out after {timeout_s:g} s in the {self.step} step"))

    @Slot()
    def start(self) -> None:
        """Show the window, check the image plugins and start the scan."""
        self.deadline.start()
        self.window.show()
        platform = QApplication.platformName()
        formats = {bytes(name) for name in QImageReader.supportedImageFormats()}
        missing = [name.decode() for name in REQUIRED_IMAGE_FORMATS if name not in formats]
        if missing:
            self._fail(f"Qt image plugins missing for {', '.join(missing)} (platform {platform})")
            return
        self._passed(f"window on the {platform} platform")

        self.step = "scan"
        worker = self.pool.start(lambda token, report: scan_workspace(self.transport, token), name="self-test scan")
        worker.signals.result.connect(self._on_scanned)
        worker.signals.error.connect(self._fail)

    def shut_down(self) -> None:
        """Stop the timer, cancel running workers and close the window."""
        self.deadline.stop()
        self.loader.cancel()
        self.pool.cancel_all()
        if not self.pool.wait(SHUTDOWN_WAIT_MS):
            log.warning("self-test workers still running after %d ms", SHUTDOWN_WAIT_MS)
        self.window.close()

    @Slot(object)
    def _on_scanned(self, scan: WorkspaceScan) -> None:
        if scan.errors:
            self._fail(f"the scan reported errors: {'; '.join(scan.errors)}")
            return
        config = _first_config_with_samples(scan)
        if config is None:
            self._fail(f"the scan found no config with validation samples among {len(scan.configs)} configs")
            return
        self._passed(f"scan ({len(scan.configs)} configs)")

        self.step = "validation grid"
        worker = self.pool.start(lambda token, report: self._build_grid(config, token), name="self-test grid")
        worker.signals.result.connect(self._on_grid_built)
        worker.signals.error.connect(self._fail)

    def _build_grid(self, config: ConfigEntry, token: "CancelToken") -> ToolResult:
        # Runs on a pool thread.
        ctx = ToolContext(transport=self.transport, dest=self.dest, cancel=token)
        return ValidationGrid().run(ctx, config)

    @Slot(object)
    def _on_grid_built(self, result: ToolResult) -> None:
        if result.status not in (Status.OK, Status.WARNING):
            self._fail(f"the validation grid of {result.config} ended {result.status.value}: {result.message}")
            return
        grids = [Path(path) for path in result.local_files if path.endswith(".jpg")]
        if not grids:
            self._fail(f"the validation grid of {result.config} wrote no .jpg file: {result.local_files}")
            return
        self.expected_size = (int(result.details.get("width") or 0), int(result.details.get("height") or 0))
        self._passed(f"validation grid ({result.config}, {result.message})")

        self.step = "viewer"
        self.loader.load(grids[0])

    @Slot(object)
    def _on_image_loaded(self, loaded: LoadedImage) -> None:
        self.view.set_image(loaded.image)
        shown = self.view.image_size()
        if not self.view.has_image():
            self._fail(f"the viewer shows no image after loading {loaded.path}")
            return
        if shown != self.expected_size:
            self._fail(f"the viewer shows {shown[0]}x{shown[1]} px, the grid is {self.expected_size}")
            return
        if loaded.sidecar is None:
            self._fail(f"the grid sidecar next to {loaded.path} was not read: {loaded.sidecar_error}")
            return
        self._passed(f"viewer ({shown[0]}x{shown[1]} px)")
        self.outcome.completed = True
        self._finish()

    @Slot(object, str)
    def _on_image_failed(self, path: Any, message: str) -> None:
        self._fail(f"the viewer could not load {path}: {message}")

    def _passed(self, label: str) -> None:
        log.info("self-test step passed: %s", label)
        self.outcome.steps.append(label)

    @Slot(str)
    def _fail(self, message: str) -> None:
        if self.outcome.failure is not None:
            return
        log.error("self-test failed in the %s step: %s", self.step, message)
        self.outcome.failure = f"{self.step}: {message}"
        self._finish()

    def _finish(self) -> None:
        self.deadline.stop()
        QTimer.singleShot(0, QApplication.quit)


def _first_config_with_samples(scan: WorkspaceScan) -> Optional[ConfigEntry]:
    for config in scan.configs:
        if config.output_exists and config.validation_samples > 0:
            return config
    return None
