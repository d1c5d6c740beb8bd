"""The main window: connection, selection, destination, tools, results and log.

Every slow step (connect, scan, tools, downloads, closing a connection) runs
in a :class:`~ppdesk.gui.workers.WorkerPool` worker. The window's methods
are grouped by concept in mixins: widgets and menus (window_widgets),
connecting and scanning (window_connection), tool runs (window_runs) and
the secondary windows (window_secondary). This module keeps construction,
the destination, enabling, the remembered state and closing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from PySide6.QtCore import QUrl, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QSystemTrayIcon, QWidget

import ppdesk
from ppdesk.gui.banner import CAUSE_DESTINATION, CAUSE_SELECTION
from ppdesk.gui.hostkey_dialog import GuiPrompter
from ppdesk.gui.shortcuts_dialog import ShortcutsDialog, show_shortcuts
from ppdesk.gui.state import WindowState
from ppdesk.gui.window_connection import Connection, WindowConnectionMixin
from ppdesk.gui.window_runs import WindowRunsMixin
from ppdesk.gui.window_secondary import SecondaryWindowsMixin
from ppdesk.gui.window_widgets import MAIN_EXTRA_ROWS, WindowWidgetsMixin
from ppdesk.gui.workers import Worker, WorkerPool
from ppdesk.settings import DEFAULT_DESTINATION_NAME
from ppdesk.tools.base import ToolOptions, ToolResult

if TYPE_CHECKING:
    from ppdesk.remote.profiles import ProfileStore
    from ppdesk.remote.transport import Transport
    from ppdesk.tools.workspace import WorkspaceScan

log = logging.getLogger(__name__)

# On close, running work gets this long to stop before the window goes anyway.
CLOSE_WAIT_MS = 5000


def tool_titles() -> Dict[str, str]:
    from ppdesk.tools import ORDER, TOOLS

    return {key: TOOLS[key].title for key in ORDER}


class MainWindow(WindowWidgetsMixin, WindowConnectionMixin, WindowRunsMixin, SecondaryWindowsMixin, QMainWindow):
    """The ppdesk main window.

    ``state`` stores remembered values (tests pass an INI-backed one),
    ``profiles`` the saved connection profiles, and ``demo_parent`` the
    folder that contains the demo workspace. Emits ``scanFinished(scan)`` after
    a current scan reached the combos, ``scanFailed(str)`` with the message
    when a current connect or scan failed, ``profilesLoaded(count)`` after
    the saved profiles reached the workspace combo, ``runProgress(ProgressEvent)`` for
    each progress report of a run, and ``runFinished(results)`` with that
    run's results (not the earlier runs' rows) after a tool run ended,
    however it ended.
    """

    scanFinished = Signal(object)
    scanFailed = Signal(str)
    profilesLoaded = Signal(int)
    runProgress = Signal(object)
    runFinished = Signal(object)

    def __init__(
        self,
        state: Optional[WindowState] = None,
        profiles: Optional["ProfileStore"] = None,
        demo_parent: Optional[Path] = None,
        parent: Optional[QWidget] = None,
    ) -> None:
        super().__init__(parent)
        self.state = state if state is not None else WindowState()
        self.profiles = profiles
        self.demo_parent = demo_parent
        self.pool = WorkerPool(max_threads=4, parent=self)
        self.prompter = GuiPrompter(self)
        self.titles = tool_titles()
        self.confirm: Callable[[str, str], bool] = self._ask_yes_no
        # The open "quit during a run" question, answered for the user when the run ends first.
        self._quit_question: Optional[QMessageBox] = None
        self.show_images: Callable[[List[Path]], None] = self._open_in_viewer

        self._transport: Optional["Transport"] = None
        self._connection: Optional[Connection] = None
        self._scan: Optional["WorkspaceScan"] = None
        self._generation = 0
        self._scan_worker: Optional[Worker] = None
        self._run_worker: Optional[Worker] = None
        self._run_keys: List[str] = []
        self._run_title = ""
        self._run_options = ToolOptions()
        self._run_results: List[ToolResult] = []
        # The message of the error that stopped the current run before its end, or None.
        self._run_error: Optional[str] = None
        # The workspace_key() of the connection the result rows came from.
        self._results_workspace: Optional[str] = None
        self._run_started = 0.0
        self._closing = False
        self._tray: Optional[QSystemTrayIcon] = None
        self._viewer: Optional[QWidget] = None
        self._browser: Optional[QWidget] = None
        self._compare: Optional[QWidget] = None
        self._sample_fetcher: Optional[Any] = None
        # Every grid the runs of this session wrote, oldest first, for View > Compare.
        self.grid_history: List[Path] = []

        self.setWindowTitle("ppdesk")
        self.setAcceptDrops(True)
        self._build_widgets()
        self._build_menus()
        self._restore_state()
        self._load_profiles()
        self._update_enabled()

    # ------------------------------------------------------------------
    # Destination

    @Slot()
    def choose_destination(self) -> None:
        start = self.destination_edit.text() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose the destination folder", start)
        if folder:
            self.set_destination(folder)

    def set_destination(self, folder: str) -> None:
        self.destination_edit.setText(folder)
        self.state.destination = folder
        self.statusBar().showMessage(f"Destination: {folder}", 5000)
        self._update_enabled()

    @property
    def destination(self) -> str:
        return self.destination_edit.text().strip()

    @Slot()
    def _on_destination_edited(self) -> None:
        self.state.destination = self.destination

    @Slot(str)
    def _on_destination_text(self, _text: str) -> None:
        if self.destination:
            self.banner.resolve(CAUSE_DESTINATION)
        self._update_enabled()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_folder(event.mimeData().urls()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        folder = _dropped_folder(event.mimeData().urls())
        if folder is None:
            event.ignore()
            return
        self.set_destination(str(folder))
        event.acceptProposedAction()

    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About ppdesk",
            f"<b>ppdesk {ppdesk.__version__}</b><br>"
            "Post-processes SimpleTuner LoRA training runs: LoRA mover, validation and dataset grids, "
            "config backup and output download, on a pod over SSH or on this machine.",
        )

    @Slot()
    def show_shortcuts(self) -> ShortcutsDialog:
        """Show the non-modal list of the menu actions' keys and the window's other keys, and return it."""
        return show_shortcuts(self, "ppdesk shortcuts", self.menu_actions(), MAIN_EXTRA_ROWS)

    # ------------------------------------------------------------------
    # State, enabling, closing

    def _set_status(self, state: str, text: str) -> None:
        colours = {
            "connected": "#2e7d32",
            "connecting": "#f9a825",
            "running": "#1565c0",
            "failed": "#c62828",
            "disconnected": "#9e9e9e",
        }
        self.status_dot.setText(f'<span style="color:{colours.get(state, "#9e9e9e")}; font-size:14pt">\u25cf</span>')
        self.status_label.setText(text)
        self.status_label.setToolTip(text)
        self.connection_state = state

    @Slot()
    def _update_enabled(self) -> None:
        running = self._run_worker is not None
        connected = self._transport is not None and self._scan is not None
        can_run = connected and not running and self.selection.current()[0] is not None
        for button in self.tool_buttons.values():
            button.setEnabled(can_run)
        for action in self.tool_actions.values() if hasattr(self, "tool_actions") else []:
            action.setEnabled(can_run)
        self.pp_button.setEnabled(can_run)
        if hasattr(self, "pp_action"):
            self.pp_action.setEnabled(can_run)
            self.cancel_action.setEnabled(running)
            self.rescan_action.setEnabled(self._transport is not None and not running)
            self.connect_action.setEnabled(not running)
            self.open_folder_action.setEnabled(not running)
            self.demo_action.setEnabled(not running)
        self.connect_button.setEnabled(not running and self.connection_combo.count() > 0)
        self.disconnect_button.setEnabled(self._transport is not None and not running)
        self.connection_combo.setEnabled(not running)
        self.selection.setEnabled(not running)
        self.include_base_box.setEnabled(not running)
        can_clear = not running and self.results.results_model.rowCount() > 0
        self.clear_results_button.setEnabled(can_clear)
        if hasattr(self, "clear_results_action"):
            self.clear_results_action.setEnabled(can_clear)

    @Slot(str, str)
    def _on_selection_changed(self, family: str, config: str) -> None:
        if family:
            self.state.set_selection(family, config or None, self._workspace_key())
            self.banner.resolve(CAUSE_SELECTION)
        self._update_enabled()

    @Slot(bool)
    def _on_include_base_toggled(self, on: bool) -> None:
        self.state.include_base = on

    def _restore_state(self) -> None:
        geometry = self.state.geometry
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1180, 780)
        window_state = self.state.window_state
        if window_state is not None:
            self.restoreState(window_state)
        sizes = self.state.splitter_sizes("results_log")
        if len(sizes) == 2 and all(size > 0 for size in sizes):
            self.splitter.setSizes(sizes)
        else:
            self.splitter.setSizes([460, 170])
        # A first start gets the command line's default under the home folder,
        # so Run post-process works without a trip to the folder chooser.
        self.destination_edit.setText(self.state.destination or str(Path.home() / DEFAULT_DESTINATION_NAME))
        self.include_base_box.setChecked(self.state.include_base)

    def save_state(self) -> None:
        self.state.geometry = self.saveGeometry()
        self.state.window_state = self.saveState()
        self.state.set_splitter_sizes("results_log", self.splitter.sizes())
        for window in (self._viewer, self._compare, self._browser):
            if window is not None:
                self._save_window_geometry(window)
        if self.destination:
            self.state.destination = self.destination
        family, config = self.selection.current()
        if family:
            self.state.set_selection(family, config, self._workspace_key())
        self.state.sync()

    def _ask_yes_no(self, title: str, text: str) -> bool:
        box = QMessageBox(
            QMessageBox.Icon.Question, title, text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self,
        )
        box.setDefaultButton(QMessageBox.StandardButton.No)
        self._quit_question = box
        try:
            return box.exec() == QMessageBox.StandardButton.Yes
        finally:
            self._quit_question = None
            box.deleteLater()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask when a run is active, then cancel all work, wait briefly and close the transport."""
        if self._closing:
            event.accept()
            return
        if self._run_worker is not None and not self.confirm(
            "Quit ppdesk", "A run is in progress. Cancel it and quit? Partial downloads resume next time."
        ):
            event.ignore()
            return

        self._closing = True
        self.save_state()
        self.prompter.shut_down()
        self.pool.cancel_all()
        self.pool.disconnect_all()
        self.progress.finish()
        if not self.pool.wait(CLOSE_WAIT_MS):
            log.warning("some work was still running %d ms after the window closed", CLOSE_WAIT_MS)

        transport, self._transport = self._transport, None
        if transport is not None:
            self.pool.start(lambda _token, _report: transport.close(), name="close on exit")
            self.pool.wait(CLOSE_WAIT_MS)
        self._run_worker = None
        self._scan_worker = None
        self.log_panel.detach()
        if self._tray is not None:
            self._tray.hide()
        for window in (self._viewer, self._browser, self._compare):
            if window is not None:
                window.close()
        event.accept()


def _dropped_folder(urls: List[QUrl]) -> Optional[Path]:
    """Return the first dropped URL that is a local folder, else None."""
    for url in urls:
        if url.isLocalFile():
            path = Path(url.toLocalFile())
            if path.is_dir():
                return path
    return None
