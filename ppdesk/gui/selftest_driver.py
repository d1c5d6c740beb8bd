"""The Qt half of ``ppdesk --self-test`` (see :mod:`ppdesk.selftest`).

Qt may be imported only inside ``ppdesk.gui``, so the event-driven steps
live here. They drive the real :class:`~ppdesk.gui.main_window.MainWindow`:
connect it to the demo workspace, wait for its ``scanFinished``, run the
validation grid tool from it, wait for ``runFinished``, and check that the
window's own image viewer shows the grid with its sidecar. A single-shot
timer ends the run with a failure when a step takes too long.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtGui import QImageReader
from PySide6.QtWidgets import QApplication

from ppdesk.gui.main_window import MainWindow
from ppdesk.gui.state import WindowState, ini_settings
from ppdesk.tools.base import Status, ToolResult
from ppdesk.tools.workspace import ConfigEntry, WorkspaceScan

if TYPE_CHECKING:
    from ppdesk.remote.transport import Transport
    from ppdesk.selftest import SelfTestOutcome

log = logging.getLogger(__name__)

# Qt image formats the viewer needs from the bundled image plugins.
REQUIRED_IMAGE_FORMATS = (b"jpeg", b"png")
# Time the window's workers get to wind down after the last step or a failure.
SHUTDOWN_WAIT_MS = 5000


def run_gui_steps(transport: "Transport", dest: Path, timeout_s: float, outcome: "SelfTestOutcome") -> None:
    """Run the window, scan, grid and viewer steps, recording them in ``outcome``.

    Blocks in the Qt event loop until the last step passes, one fails, or
    ``timeout_s`` seconds pass. Creates the QApplication when none exists.
    The window's remembered state goes to an INI file in ``dest``'s parent
    folder, so the user's settings stay untouched.
    """
    from ppdesk.gui.app import ensure_application

    app = ensure_application()
    driver = SelfTestDriver(transport, dest, timeout_s, outcome)
    QTimer.singleShot(0, driver.start)
    app.exec()
    driver.shut_down()


class SelfTestDriver(QObject):
    """Chain the self-test steps through MainWindow and viewer signals on the GUI thread."""

    def __init__(self, transport: "Transport", dest: Path, timeout_s: float, outcome: "SelfTestOutcome") -> None:
        super().__init__()
        self.transport = transport
        self.dest = dest
        self.outcome = outcome
        self.step = "window"
        self.expected_size: Optional[tuple[int, int]] = None
        self.grid: Optional[Path] = None

        state = WindowState(ini_settings(dest.parent / "selftest-state.ini"))
        self.window = MainWindow(state, profiles=None)
        self.window.confirm = lambda _title, _text: True
        self.window.scanFinished.connect(self._on_scanned)
        self.window.scanFailed.connect(lambda message: self._fail(f"the scan failed: {message}"))
        self.window.runFinished.connect(self._on_run_finished)
        viewer = self.window.image_viewer()
        viewer.image_loaded.connect(self._on_image_loaded)
        viewer.load_failed.connect(self._on_image_failed)

        self.deadline = QTimer(self)
        self.deadline.setSingleShot(True)
        self.deadline.setInterval(round(timeout_s * 1000))
        self.deadline.timeout.connect(lambda: self._fail(f"timed out after {timeout_s:g} s in the {self.step} step"))

    @Slot()
    def start(self) -> None:
        """Show the main window, check the image plugins and connect to the workspace."""
        self.deadline.start()
        self.window.show()
        platform = QApplication.platformName()
        formats = {bytes(name) for name in QImageReader.supportedImageFormats()}
        missing = [name.decode() for name in REQUIRED_IMAGE_FORMATS if name not in formats]
        if missing:
            self._fail(f"Qt image plugins missing for {', '.join(missing)} (platform {platform})")
            return
        self._passed(f"main window on the {platform} platform")

        self.step = "scan"
        self.window.add_transport(self.transport, "Self-test workspace")

    def shut_down(self) -> None:
        """Stop the timer, then close the main window, which cancels and waits for its workers."""
        self.deadline.stop()
        self.window.close()
        if not self.window.pool.wait(SHUTDOWN_WAIT_MS):
            log.warning("self-test workers still running after %d ms", SHUTDOWN_WAIT_MS)

    @Slot(object)
    def _on_scanned(self, scan: WorkspaceScan) -> None:
        if self.step != "scan":
            return
        if scan.errors:
            self._fail(f"the scan reported errors: {'; '.join(scan.errors)}")
            return
        config = _first_config_with_samples(scan)
        if config is None:
            self._fail(f"the scan found no config with validation samples among {len(scan.configs)} configs")
            return
        self._passed(f"scan ({len(scan.configs)} configs)")

        self.step = "validation grid"
        self.window.set_destination(str(self.dest))
        if not self.window.selection.select(config.family, config.name):
            self._fail(f"the main window cannot select {config.name} of family {config.family}")
            return
        if self.window.run_tools(["vg"]) is None:
            self._fail(f"the main window did not start the run: {self.window.banner.text.text()}")

    @Slot(object)
    def _on_run_finished(self, results: List[ToolResult]) -> None:
        if self.step != "validation grid":
            return
        if len(results) != 1:
            self._fail(f"the run returned {len(results)} results, expected 1")
            return
        result = results[0]
        if result.status not in (Status.OK, Status.WARNING):
            self._fail(f"the validation grid of {result.config} ended {result.status.value}: {result.message}")
            return
        grids = [Path(path) for path in result.local_files if path.endswith(".jpg")]
        if not grids:
            self._fail(f"the validation grid of {result.config} wrote no .jpg file: {result.local_files}")
            return
        self.grid = grids[0]
        self.expected_size = (int(result.details.get("width") or 0), int(result.details.get("height") or 0))
        self._passed(f"validation grid ({result.config}, {result.message})")
        # The main window opens its viewer on the grid after the run.
        self.step = "viewer"

    @Slot(object)
    def _on_image_loaded(self, path: Any) -> None:
        if self.step != "viewer" or Path(path) != self.grid:
            return
        viewer = self.window.image_viewer()
        shown = viewer.view.image_size()
        if not viewer.isVisible():
            self._fail("the main window did not show its image viewer after the grid run")
            return
        if not viewer.view.has_image():
            self._fail(f"the viewer shows no image after loading {path}")
            return
        if shown != self.expected_size:
            self._fail(f"the viewer shows {shown[0]}x{shown[1]} px, the grid is {self.expected_size}")
            return
        if viewer.overlay.sidecar is None:
            self._fail(f"the viewer has no grid cells for {path}: its JSON sidecar was not read")
            return
        cells = len(viewer.overlay.sidecar.cells)
        self._passed(f"viewer ({shown[0]}x{shown[1]} px, {cells} cells)")
        self.outcome.completed = True
        self._finish()

    @Slot(object, str)
    def _on_image_failed(self, path: Any, message: str) -> None:
        if self.step == "viewer":
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
