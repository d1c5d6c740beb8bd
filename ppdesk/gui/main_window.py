"""The main window: connection, selection, destination, tools, results and log.

Every slow step (connect, scan, tools, downloads, closing a connection) runs
in a :class:`~ppdesk.gui.workers.WorkerPool` worker. Each connect or rescan
request carries a generation number, and a scan result whose generation is
no longer current is dropped, so switching workspaces while a scan runs
never shows stale configs.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

from PySide6.QtCore import QByteArray, QEvent, QObject, QSize, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStyle,
    QSystemTrayIcon,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import ppdesk
from ppdesk.gui.banner import CAUSE_CONNECTION, CAUSE_DESTINATION, CAUSE_RUN, CAUSE_SELECTION, MessageBanner
from ppdesk.gui.hostkey_dialog import ChangedHostKeyDialog, GuiPrompter
from ppdesk.gui.log_panel import LogPanel
from ppdesk.gui.placement import place_near
from ppdesk.gui.progress import ProgressPanel
from ppdesk.gui.results_table import ResultsTable
from ppdesk.gui.selection import SelectionPanel
from ppdesk.gui.state import WindowState
from ppdesk.gui.workers import Worker, WorkerPool
from ppdesk.settings import DEFAULT_DESTINATION_NAME
from ppdesk.tools.base import ProgressEvent, Status, ToolContext, ToolOptions, ToolResult
from ppdesk.tools.common import plural
from ppdesk.tools.postprocess import count_statuses

if TYPE_CHECKING:
    from ppdesk.remote.profiles import Profile, ProfileStore
    from ppdesk.remote.transport import Transport
    from ppdesk.tools.workspace import ConfigEntry, WorkspaceScan

log = logging.getLogger(__name__)

# A run longer than this ends with a tray notification, when a tray exists.
TRAY_NOTICE_AFTER_S = 30.0
# On close, running work gets this long to stop before the window goes anyway.
CLOSE_WAIT_MS = 5000
GRID_TOOLS = ("vg", "dg")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
PROFILE_ENTRY = "profile"
LOCAL_ENTRY = "local"
TRANSPORT_ENTRY = "transport"
# The Qt property on a secondary window that names its geometry key in WindowState.
GEOMETRY_KEY_PROPERTY = "ppdeskGeometryKey"


@dataclass
class Connection:
    """An entry of the workspace combo: a saved profile, a local folder or a given transport."""

    kind: str
    label: str
    profile: Optional["Profile"] = None
    folder: Optional[str] = None
    transport: Optional["Transport"] = None

    def workspace_key(self) -> str:
        """Return an id of the workspace this entry opens; equal ids mean the same workspace.

        A local folder gets ``local:<absolute path>`` whether it was opened
        as a folder or passed in as a LocalTransport (``ppdesk --demo``), so
        both ways of opening the demo workspace share results and the
        remembered selection.
        """
        if self.kind == LOCAL_ENTRY and self.folder:
            return f"{LOCAL_ENTRY}:{os.path.abspath(self.folder)}"
        if self.kind == TRANSPORT_ENTRY and self.transport is not None:
            return self.transport.describe()
        return f"{self.kind}:{self.label}"


def tool_titles() -> Dict[str, str]:
    from ppdesk.tools import ORDER, TOOLS

    return {key: TOOLS[key].title for key in ORDER}


class MainWindow(QMainWindow):
    """The ppdesk main window.

    ``state`` stores remembered values (tests pass an INI-backed one),
    ``profiles`` the saved connection profiles, and ``demo_parent`` the
    folder that contains the demo workspace. Emits ``scanFinished(scan)`` after
    a current scan reached the combos, ``scanFailed(str)`` with the message
    when a current connect or scan failed, ``profilesLoaded(count)`` after
    the saved profiles reached the workspace combo, ``runProgress(ProgressEvent)`` for
    each progress report of a run, and ``runFinished(results)`` after a
    tool run ended, however it ended.
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
    # Construction

    def _build_widgets(self) -> None:
        style = self.style()

        # Connection row: saved profiles and local workspaces, Connect, status.
        self.connection_combo = QComboBox()
        self.connection_combo.setObjectName("connectionCombo")
        self.connection_combo.setMinimumContentsLength(24)
        self.connection_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.connect_button = QPushButton("Connect")
        self.connect_button.clicked.connect(self.connect_selected)
        self.disconnect_button = QPushButton("Disconnect")
        self.disconnect_button.clicked.connect(self.disconnect_workspace)
        self.edit_profiles_button = QToolButton()
        self.edit_profiles_button.setText("Profiles...")
        self.edit_profiles_button.setToolTip("Add, edit or test connection profiles")
        self.edit_profiles_button.clicked.connect(self.open_connection_dialog)
        self.status_dot = QLabel()
        self.status_label = QLabel()
        self.status_label.setObjectName("connectionStatus")
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        connection_label = QLabel("&Workspace:")
        connection_label.setBuddy(self.connection_combo)

        connection_row = QHBoxLayout()
        connection_row.addWidget(connection_label)
        connection_row.addWidget(self.connection_combo)
        connection_row.addWidget(self.connect_button)
        connection_row.addWidget(self.disconnect_button)
        connection_row.addWidget(self.edit_profiles_button)
        connection_row.addSpacing(12)
        connection_row.addWidget(self.status_dot)
        connection_row.addWidget(self.status_label, 1)

        # Selection and destination.
        self.selection = SelectionPanel()
        self.selection.selectionChanged.connect(self._on_selection_changed)
        self.destination_edit = QLineEdit()
        self.destination_edit.setObjectName("destinationEdit")
        self.destination_edit.setPlaceholderText("Local folder for grids, config backups and outputs (or drop a folder here)")
        self.destination_edit.setClearButtonEnabled(True)
        self.destination_edit.editingFinished.connect(self._on_destination_edited)
        self.destination_edit.textChanged.connect(self._on_destination_text)
        self.choose_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon), "Choose...")
        self.choose_button.clicked.connect(self.choose_destination)
        destination_label = QLabel("&Destination:")
        destination_label.setBuddy(self.destination_edit)
        destination_row = QHBoxLayout()
        destination_row.addWidget(destination_label)
        destination_row.addWidget(self.destination_edit, 1)
        destination_row.addWidget(self.choose_button)

        # One button per tool, then the post-process button.
        self.tool_buttons: Dict[str, QPushButton] = {}
        tools_row = QHBoxLayout()
        for key, title in self.titles.items():
            button = QPushButton(title)
            button.setObjectName(f"toolButton_{key}")
            button.setToolTip(f"Run {title.lower()} on the selection ({key})")
            button.clicked.connect(lambda _checked=False, k=key: self.run_tools([k]))
            self.tool_buttons[key] = button
            tools_row.addWidget(button)
        tools_row.addSpacing(12)
        self.include_base_box = QCheckBox("Include base model row")
        self.include_base_box.setObjectName("includeBaseBox")
        self.include_base_box.setToolTip(
            "Validation grid: keep the step-0 (base model) samples and add a last row with the base model's "
            "own images from the output's benchmarks/base_model folder. When off, step 0 is left out."
        )
        self.include_base_box.toggled.connect(self._on_include_base_toggled)
        tools_row.addWidget(self.include_base_box)
        tools_row.addStretch(1)
        self.pp_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "Run post-process")
        self.pp_button.setObjectName("postProcessButton")
        self.pp_button.setToolTip("Run all five tools on every selected config (Ctrl+Enter)")
        self.pp_button.setDefault(True)
        self.pp_button.setMinimumHeight(36)
        font = self.pp_button.font()
        font.setBold(True)
        self.pp_button.setFont(font)
        self.pp_button.clicked.connect(self.run_post_process)
        tools_row.addWidget(self.pp_button)

        # Progress, message banner, then results over log in a splitter.
        self.progress = ProgressPanel(titles=self.titles)
        self.progress.cancelRequested.connect(self.cancel_run)
        self.banner = MessageBanner()
        self.results = ResultsTable(self.titles)
        self.results.resultActivated.connect(self._on_result_activated)
        self.results.results_model.modelReset.connect(self._update_enabled)
        self.results.results_model.rowsInserted.connect(self._update_enabled)
        self.clear_results_button = QToolButton()
        self.clear_results_button.setObjectName("clearResultsButton")
        self.clear_results_button.setText("Clear results")
        self.clear_results_button.setToolTip("Remove the rows of all runs from the table")
        self.clear_results_button.clicked.connect(self.clear_results)
        results_title = QLabel("Results")
        title_font = results_title.font()
        title_font.setBold(True)
        results_title.setFont(title_font)
        results_bar = QHBoxLayout()
        results_bar.setContentsMargins(0, 0, 0, 0)
        results_bar.addWidget(results_title)
        results_bar.addStretch(1)
        results_bar.addWidget(self.clear_results_button)
        results_box = QWidget()
        results_layout = QVBoxLayout(results_box)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.setSpacing(4)
        results_layout.addLayout(results_bar)
        results_layout.addWidget(self.results, 1)
        self.log_panel = LogPanel()
        self.log_panel.attach(logging.getLogger("ppdesk"))
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("resultsLogSplitter")
        self.splitter.addWidget(results_box)
        self.splitter.addWidget(self.log_panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)

        top = QVBoxLayout()
        top.setSpacing(8)
        top.addLayout(connection_row)
        top.addWidget(_separator())
        top.addWidget(self.selection)
        top.addLayout(destination_row)
        top.addLayout(tools_row)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(12, 10, 12, 6)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.statusBar().showMessage("Not connected")
        self._set_status("disconnected", "not connected")

    def _build_menus(self) -> None:
        menu_bar = self.menuBar()

        file_menu = menu_bar.addMenu("&File")
        self.connect_action = self._action(file_menu, "&Connect...", self.open_connection_dialog, "Ctrl+K")
        self.open_folder_action = self._action(
            file_menu, "&Open workspace folder...", self.choose_workspace_folder, QKeySequence.StandardKey.Open
        )
        self.demo_action = self._action(file_menu, "Open &demo workspace", self.open_demo_workspace)
        self.rescan_action = self._action(file_menu, "&Rescan workspace", self.rescan, QKeySequence.StandardKey.Refresh)
        self.choose_dest_action = self._action(file_menu, "Choose d&estination...", self.choose_destination, "Ctrl+D")
        file_menu.addSeparator()
        quit_action = self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)

        view_menu = menu_bar.addMenu("&View")
        self._action(view_menu, "&Image viewer", self.open_image_viewer, "Ctrl+I")
        self._action(view_menu, "&Output browser", self.open_output_browser, "Ctrl+B")
        self.compare_action = self._action(
            view_menu, "&Compare...", lambda _checked=False: self.open_compare(), "Ctrl+Shift+C"
        )
        self.compare_action.setToolTip("Two grids or samples side by side, zoomed and panned together")

        tools_menu = menu_bar.addMenu("&Tools")
        self.tool_actions: Dict[str, QAction] = {}
        for number, (key, title) in enumerate(self.titles.items(), start=1):
            action = self._action(tools_menu, title, lambda _checked=False, k=key: self.run_tools([k]), f"Ctrl+{number}")
            self.tool_actions[key] = action
        tools_menu.addSeparator()
        self.pp_action = self._action(tools_menu, "&Post-process", self.run_post_process, "Ctrl+Return")
        self.cancel_action = self._action(tools_menu, "&Cancel run", self.cancel_run)
        tools_menu.addSeparator()
        self.clear_results_action = self._action(tools_menu, "C&lear results", self.clear_results)

        help_menu = menu_bar.addMenu("&Help")
        about = self._action(help_menu, "&About ppdesk", self.show_about)
        about.setMenuRole(QAction.MenuRole.AboutRole)

    def _action(self, menu: Any, text: str, slot: Callable[..., Any], shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    # ------------------------------------------------------------------
    # Connection

    def add_transport(self, transport: "Transport", label: Optional[str] = None) -> None:
        """Add an already built transport to the workspace combo and connect to it."""
        entry = Connection(TRANSPORT_ENTRY, label or transport.describe(), transport=transport)
        self._insert_entry(entry)
        self.connect_to(entry)

    def open_local_workspace(self, folder: Path) -> None:
        """Connect to a workspace folder on this machine."""
        entry = Connection(LOCAL_ENTRY, f"Local: {folder}", folder=str(folder))
        self._insert_entry(entry)
        self.connect_to(entry)

    @Slot()
    def connect_selected(self) -> None:
        entry = self.connection_combo.currentData()
        if isinstance(entry, Connection):
            self.connect_to(entry)
        else:
            self.open_connection_dialog()

    def connect_to(self, entry: Connection) -> None:
        """Open ``entry``'s transport and scan it, both in a worker."""
        if self._run_worker is not None:
            self.banner.show_message(
                "A run is in progress; cancel it before connecting to another workspace.", cause=CAUSE_RUN
            )
            return
        try:
            transport = self._build_transport(entry)
        except ValueError as exc:
            self.banner.show_message(f"Cannot connect to {entry.label}: {exc}")
            return

        self._drop_connection()
        self._transport = transport
        self._connection = entry
        if self._results_workspace is not None and self._results_workspace != entry.workspace_key():
            log.debug("clearing the results of %s", self._results_workspace)
            self.results.clear_results()
            self._results_workspace = None
        if entry.kind == PROFILE_ENTRY:
            self.state.last_profile = entry.label
        self.banner.hide()
        self._set_status("connecting", f"connecting to {entry.label}...")
        log.info("connecting to %s", transport.describe())
        self._start_scan(connect=True)

    @Slot()
    def disconnect_workspace(self) -> None:
        if self._run_worker is not None:
            self.banner.show_message("A run is in progress; cancel it before disconnecting.", cause=CAUSE_RUN)
            return
        self._drop_connection()
        self.selection.set_scan(None)
        self._set_status("disconnected", "not connected")
        self._update_enabled()

    @Slot()
    def rescan(self) -> None:
        """Scan the connected workspace again, keeping the selection when it still exists."""
        if self._transport is None or self._run_worker is not None:
            return
        self._set_status("connecting", f"scanning {self._connection.label if self._connection else ''}...")
        self._start_scan(connect=False)

    def _start_scan(self, connect: bool) -> None:
        from ppdesk.tools.workspace import scan_workspace

        if self._scan_worker is not None:
            self._scan_worker.cancel()
        self._generation += 1
        transport = self._transport
        assert transport is not None

        def job(token: Any, _report: Callable[[Any], None]) -> "WorkspaceScan":
            if connect:
                transport.connect()
            return scan_workspace(transport, token)

        worker = self.pool.start(job, name=f"scan {transport.describe()}", tag=self._generation)
        worker.signals.result.connect(self._on_scan_result)
        worker.signals.error.connect(self._on_scan_error)
        worker.signals.finished.connect(self._on_scan_finished)
        self._scan_worker = worker
        self._update_enabled()

    @Slot(object)
    def _on_scan_result(self, scan: "WorkspaceScan") -> None:
        if not self._is_current(self.sender()):
            log.debug("dropped the result of an outdated scan")
            return
        self._scan = scan
        # The remembered selection, not the combos: after a disconnect or a
        # failed connect they are empty, and after another workspace they
        # show that workspace's choice.
        family, config = self.state.selection_for(self._workspace_key())
        self.selection.set_scan(scan, (family, config or None) if family else None)
        label = self._connection.label if self._connection else "workspace"
        summary = f"{len(scan.configs)} configs in {len(scan.families)} families"
        self._set_status("connected", f"{label}: {summary}")
        self.statusBar().showMessage(f"Scanned {label}: {summary}", 10000)
        for error in scan.errors:
            log.warning("workspace %s: %s", label, error)
        if scan.errors:
            self.banner.show_message("; ".join(scan.errors), error=True, cause=CAUSE_CONNECTION)
        else:
            self.banner.resolve(CAUSE_CONNECTION)
        self.scanFinished.emit(scan)

    @Slot(str)
    def _on_scan_error(self, message: str) -> None:
        if not self._is_current(self.sender()):
            return
        worker = self._scan_worker
        label = self._connection.label if self._connection else "workspace"
        self._set_status("failed", f"{label}: connection failed")
        self.banner.show_message(f"Cannot open {label}: {message}", cause=CAUSE_CONNECTION)
        self._offer_host_key_replacement(worker.exception if worker else None, self._connection)
        self._drop_connection(keep_entry=True)
        self.selection.set_scan(None)
        self.scanFailed.emit(message)

    @Slot()
    def _on_scan_finished(self) -> None:
        if self._scan_worker is not None and self._scan_worker.signals is self.sender():
            self._scan_worker = None
        self._update_enabled()

    def _is_current(self, signals: Any) -> bool:
        worker = self._scan_worker
        return worker is not None and worker.signals is signals and worker.tag == self._generation

    def _drop_connection(self, keep_entry: bool = True) -> None:
        """Forget the transport and close it in a worker; pending scans become stale."""
        self._generation += 1
        if self._scan_worker is not None:
            self._scan_worker.cancel()
        transport, self._transport = self._transport, None
        self._scan = None
        if transport is not None and not self._closing:
            self.pool.start(lambda _token, _report: transport.close(), name=f"close {transport.describe()}")
        if not keep_entry:
            self._connection = None

    def _build_transport(self, entry: Connection) -> "Transport":
        if entry.kind == TRANSPORT_ENTRY and entry.transport is not None:
            return entry.transport
        if entry.kind == LOCAL_ENTRY and entry.folder:
            from ppdesk.remote.local import LocalTransport

            return LocalTransport.for_root(entry.folder)
        if entry.kind == PROFILE_ENTRY and entry.profile is not None:
            return self._ssh_transport(entry.profile)
        raise ValueError("the entry has no workspace; choose a profile or open a folder")

    def _ssh_transport(self, profile: "Profile") -> "Transport":
        try:
            from ppdesk.remote.ssh import SshTransport
            from ppdesk.remote.ssh_auth import SshPrompts
        except ImportError as exc:
            raise ValueError(f"SSH support is not available ({exc}); install paramiko in ppdesk's Python") from exc
        prompts = SshPrompts(
            ask_passphrase=self.prompter.ask_passphrase,
            ask_password=self.prompter.ask_password,
            confirm_host_key=self.prompter.confirm_host_key,
        )
        return SshTransport(profile, prompts=prompts)

    def _offer_host_key_replacement(self, error: Optional[BaseException], entry: Optional[Connection]) -> None:
        """Show the changed-key dialog when the connect failed on a changed host key.

        The stored key is replaced only when the user picks "Replace stored
        key"; then the window connects again.
        """
        from ppdesk.remote.hostkeys import HostKeyChangedError, HostKeyStore

        if not isinstance(error, HostKeyChangedError) or entry is None:
            return
        store = getattr(self._transport, "host_keys", None) or HostKeyStore()
        dialog = ChangedHostKeyDialog(error, self)

        def replace_key(_token: Any, _report: Any) -> None:
            store.replace_host_key(error.host, error.port, error.new_key)

        def start_replacement() -> None:
            worker = self.pool.start(replace_key, name=f"replace host key of {error.host}:{error.port}")
            worker.signals.result.connect(lambda _value: self.connect_to(entry))
            worker.signals.error.connect(lambda message: self.banner.show_message(f"Cannot replace the host key: {message}"))

        dialog.accepted.connect(start_replacement)
        dialog.open()

    # ------------------------------------------------------------------
    # Profiles and the connection dialog

    def _load_profiles(self) -> None:
        """Read the saved profiles in a worker; :meth:`_apply_profiles` fills the combo with them."""
        if self.profiles is None:
            return
        store = self.profiles
        worker = self.pool.start(lambda _token, _report: store.load(), name=f"read profiles {store.path}")
        worker.signals.result.connect(self._apply_profiles)
        worker.signals.error.connect(lambda message: self.banner.show_message(f"Cannot read the profiles: {message}"))

    @Slot(object)
    def _apply_profiles(self, saved: List["Profile"]) -> None:
        """Replace the combo's profile entries with ``saved``, keeping local and given workspaces.

        The current entry stays current when it still exists, else the last
        used profile is chosen. Emits ``profilesLoaded`` afterwards.
        """
        if self._closing:
            return
        kept = [
            entry
            for entry in (self.connection_combo.itemData(i) for i in range(self.connection_combo.count()))
            if isinstance(entry, Connection) and entry.kind != PROFILE_ENTRY
        ]
        current = self.connection_combo.currentData()

        self.connection_combo.blockSignals(True)
        self.connection_combo.clear()
        for entry in kept:
            self.connection_combo.addItem(entry.label, entry)
        for profile in saved:
            self.connection_combo.addItem(
                f"{profile.name}  ({profile.address})", Connection(PROFILE_ENTRY, profile.name, profile=profile)
            )
        index = -1
        if isinstance(current, Connection):
            index = self._find_entry(current.kind, current.label)
        if index < 0:
            index = self._find_entry(PROFILE_ENTRY, self.state.last_profile)
        if index >= 0:
            self.connection_combo.setCurrentIndex(index)
        self.connection_combo.blockSignals(False)
        self._update_enabled()
        self.profilesLoaded.emit(len(saved))

    def _find_entry(self, kind: str, label: str) -> int:
        for index in range(self.connection_combo.count()):
            entry = self.connection_combo.itemData(index)
            if isinstance(entry, Connection) and entry.kind == kind and entry.label == label:
                return index
        return -1

    def _insert_entry(self, entry: Connection) -> None:
        index = self._find_entry(entry.kind, entry.label)
        if index < 0:
            self.connection_combo.insertItem(0, entry.label, entry)
            index = 0
        else:
            self.connection_combo.setItemData(index, entry)
        self.connection_combo.setCurrentIndex(index)

    @Slot()
    def open_connection_dialog(self) -> None:
        from ppdesk.gui.connection_dialog import ConnectionDialog

        if self.profiles is None:
            from ppdesk.remote.profiles import ProfileStore

            self.profiles = ProfileStore()
        current = self.connection_combo.currentData()
        name = current.label if isinstance(current, Connection) and current.kind == PROFILE_ENTRY else None
        dialog = ConnectionDialog(self.profiles, self.pool, self._ssh_transport, self, select=name)
        # Each open builds a new dialog, so a closed one is deleted instead of piling up.
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.connectRequested.connect(self._on_dialog_connect)
        dialog.finished.connect(lambda _code: self._load_profiles())
        dialog.open()

    @Slot(object)
    def _on_dialog_connect(self, profile: "Profile") -> None:
        entry = Connection(PROFILE_ENTRY, profile.name, profile=profile)
        self._insert_entry(entry)
        self.connect_to(entry)

    # ------------------------------------------------------------------
    # Local folders, demo workspace, destination

    @Slot()
    def choose_workspace_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open workspace folder (the folder that contains SimpleTuner/)")
        if folder:
            self.open_local_workspace(Path(folder))

    @Slot()
    def open_demo_workspace(self) -> None:
        """Build (or reuse) the demo workspace in a worker, then connect to it."""
        from ppdesk.demo import ensure_demo_workspace

        parent = self.demo_parent
        if parent is None:
            from ppdesk.settings import cache_dir

            parent = cache_dir()
        self._set_status("connecting", "preparing the demo workspace...")
        worker = self.pool.start(lambda _token, _report: ensure_demo_workspace(parent), name="demo workspace")
        worker.signals.result.connect(self._on_demo_ready)
        worker.signals.error.connect(self._on_demo_error)

    @Slot(object)
    def _on_demo_ready(self, root: Path) -> None:
        if self._closing:
            return
        entry = Connection(LOCAL_ENTRY, "Demo workspace", folder=str(root))
        self._insert_entry(entry)
        self.connect_to(entry)

    @Slot(str)
    def _on_demo_error(self, message: str) -> None:
        self._set_status("failed", "demo workspace unavailable")
        self.banner.show_message(f"Cannot build the demo workspace: {message}")

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

    # ------------------------------------------------------------------
    # Runs

    @Slot()
    def run_post_process(self) -> None:
        from ppdesk.tools import ORDER

        self.run_tools(list(ORDER), title="Post-process")

    def run_tools(
        self, keys: Sequence[str], title: Optional[str] = None, configs: Optional[List["ConfigEntry"]] = None
    ) -> Optional[Worker]:
        """Run the tools ``keys`` in order on ``configs`` (default: the selection), in a worker.

        Returns the worker, or None when the run cannot start (the banner
        shows why).
        """
        from ppdesk.tools.postprocess import PostProcess

        blocker = self._run_blocker()
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

        def job(token: Any, report: Callable[[Any], None]) -> List[ToolResult]:
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
        self._run_started = time.monotonic()
        self.progress.begin(title, steps=len(keys) * len(configs))
        self._set_status("running", f"{title} running on {plural(len(configs), 'config')}")
        self.state.destination = str(dest)
        self.pool.submit(worker)
        self._update_enabled()
        return worker

    def _run_blocker(self) -> Optional[Tuple[str, str]]:
        """Return (message, banner cause) when a run cannot start now, else None."""
        if self._run_worker is not None:
            return "A run is in progress; wait for it or cancel it.", CAUSE_RUN
        if self._transport is None or self._scan is None:
            return "Connect to a workspace first (File > Connect, or File > Open demo workspace).", CAUSE_CONNECTION
        if not self.destination:
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
        summary = count_statuses(results)
        failed = sum(1 for r in results if r.status is Status.FAILED)
        self.results.end_run(summary, failed)
        self._set_status("connected" if self._transport else "disconnected", self._connected_text())
        self.statusBar().showMessage(f"{self._run_title} finished: {summary}", 15000)
        if failed and not self.banner.isVisible():
            self.banner.show_message(f"{self._run_title}: some tools failed ({summary}); the red rows show why.")
        if elapsed > TRAY_NOTICE_AFTER_S:
            self._notify(f"ppdesk: {self._run_title} finished", summary)
        self._update_enabled()
        if any(key in GRID_TOOLS for key in self._run_keys):
            grids = _grid_files(results)
            self.grid_history = [path for path in self.grid_history if path not in grids] + grids
            if grids:
                self.show_images(grids)
        self.runFinished.emit(results)

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

    # ------------------------------------------------------------------
    # Other windows

    def _open_in_viewer(self, paths: List[Path]) -> None:
        viewer = self.image_viewer()
        viewer.open_images(paths)
        viewer.show()
        viewer.raise_()

    def image_viewer(self) -> Any:
        """Return the image viewer window, creating it (hidden) on first use.

        A click on a grid cell opens the sample through :meth:`open_sample`,
        and the viewer's "Compare with..." goes to :meth:`open_compare`.
        """
        from ppdesk.gui.viewer import ImageViewerWindow

        if self._viewer is None:
            self._viewer = ImageViewerWindow(sample_opener=self.open_sample, compare_opener=self.open_compare)
            self._viewer.setWindowIcon(self.windowIcon())
            self._prepare_window(self._viewer, "viewer")
        return self._viewer

    def open_sample(self, cell: Any) -> None:
        """Show a grid cell's sample in the viewer, fetched from the pod in a worker when needed.

        A workspace on this machine is read in place. Other samples land in
        ``<destination>/<config>/samples/``; errors appear in the viewer's
        status bar.
        """
        from ppdesk.gui.sample_fetch import sample_cache_dir

        viewer = self.image_viewer()
        sidecar = viewer.overlay.sidecar
        if sidecar is None:
            return
        fetcher = self.sample_fetcher()
        cache = sample_cache_dir(sidecar, self.destination)
        if fetcher.fetch(cell, cache):
            step = "the base model" if cell.step is None else f"step {cell.step}"
            viewer.statusBar().showMessage(f"Opening the {cell.shortname or 'cell'} sample of {step}...")

    def sample_fetcher(self) -> Any:
        """Return the SampleFetcher behind :meth:`open_sample`, creating it on first use.

        It reads a sample in place when the workspace is on this machine
        (LocalTransport, or no connection) and fetches it otherwise.
        """
        from ppdesk.gui.sample_fetch import SampleFetcher
        from ppdesk.remote.local import LocalTransport

        if self._sample_fetcher is None:
            self._sample_fetcher = SampleFetcher(
                self.pool,
                transport=lambda: self._transport,
                read_in_place=lambda: self._transport is None or isinstance(self._transport, LocalTransport),
                parent=self,
            )
            self._sample_fetcher.fetched.connect(self._on_sample_fetched)
            self._sample_fetcher.failed.connect(self._on_sample_failed)
        return self._sample_fetcher

    @Slot(object, object)
    def _on_sample_fetched(self, _cell: Any, sample: Any) -> None:
        if self._viewer is None or self._closing:
            return
        self._viewer.show_sample(sample.path)
        if sample.note:
            self._viewer.statusBar().showMessage(sample.note)

    @Slot(object, str)
    def _on_sample_failed(self, cell: Any, message: str) -> None:
        if self._viewer is None or self._closing:
            return
        self._viewer.statusBar().showMessage(f"Cannot open the sample {cell.source}: {message}")

    def open_compare(self, path: Optional[Path] = None) -> None:
        """Open the compare window on ``path`` (default: the viewer's image, else the newest grid).

        Its choosers offer every grid of this session's runs and the images in
        the viewer. The right side starts on the best partner, e.g. the same
        grid of a sibling config after a family run.
        """
        from ppdesk.gui.compare import CompareWindow

        candidates = list(self.grid_history)
        if self._viewer is not None:
            candidates += [p for p in self._viewer.paths() if p not in candidates]
            if path is None:
                path = self._viewer.current_path()
        if path is None and candidates:
            path = candidates[0]
        if path is None:
            self.banner.show_message("Nothing to compare yet: run the validation or dataset grid first.", error=False)
            return

        if self._compare is None:
            self._compare = CompareWindow()
            self._compare.setWindowIcon(self.windowIcon())
            self._prepare_window(self._compare, "compare")
        self._compare.compare(Path(path), candidates)
        self._compare.show()
        self._compare.raise_()

    @Slot()
    def open_image_viewer(self) -> None:
        """Show the viewer with the grids of the last run, or empty."""
        self._open_in_viewer(_grid_files(self.results.run_results()))

    @Slot()
    def open_output_browser(self) -> None:
        """Show the scanned configs' outputs; its "Download selected" runs Download output on them."""
        from ppdesk.gui.output_browser import OutputBrowser

        if self._browser is None:
            self._browser = OutputBrowser()
            self._browser.setWindowTitle("ppdesk: outputs")
            self._browser.setWindowIcon(self.windowIcon())
            self._browser.resize(900, 520)
            self._browser.download_requested.connect(self._on_download_requested)
            self._prepare_window(self._browser, "browser")
        self._browser.set_entries(self._scan.configs if self._scan is not None else [])
        self._browser.show()
        self._browser.raise_()

    @Slot(list)
    def _on_download_requested(self, names: List[str]) -> None:
        if self._scan is None:
            self.banner.show_message("Connect to a workspace before downloading outputs.", cause=CAUSE_CONNECTION)
            return
        configs = [entry for entry in self._scan.configs if entry.name in set(names)]
        self.run_tools(["do"], configs=configs)

    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About ppdesk",
            f"<b>ppdesk {ppdesk.__version__}</b><br>"
            "Post-processes SimpleTuner LoRA training runs: LoRA mover, validation and dataset grids, "
            "config backup and output download, on a pod over SSH or on this machine.",
        )

    def _prepare_window(self, window: QWidget, name: str) -> None:
        """Give a new secondary window its remembered geometry, else a place beside this window.

        ``name`` is the key of the geometry in the window state; the geometry
        is saved again when the window closes and by :meth:`save_state`.
        """
        window.setObjectName(window.objectName() or f"{name}Window")
        window.setProperty(GEOMETRY_KEY_PROPERTY, name)
        geometry = self.state.window_geometry(name)
        if geometry is None or not window.restoreGeometry(geometry):
            place_near(window, self)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Save a secondary window's geometry when it closes."""
        if event.type() == QEvent.Type.Close and isinstance(watched, QWidget):
            self._save_window_geometry(watched)
        return super().eventFilter(watched, event)

    def _save_window_geometry(self, window: QWidget) -> None:
        name = window.property(GEOMETRY_KEY_PROPERTY)
        if isinstance(name, str) and name and window.isVisible():
            self.state.set_window_geometry(name, window.saveGeometry())

    def _notify(self, title: str, message: str) -> None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        if self._tray is None:
            self._tray = QSystemTrayIcon(self.windowIcon(), self)
        self._tray.show()
        self._tray.showMessage(title, message, QSystemTrayIcon.MessageIcon.Information, 8000)

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

    def _connected_text(self) -> str:
        if self._transport is None or self._scan is None:
            return "not connected"
        label = self._connection.label if self._connection else self._transport.describe()
        return f"{label}: {len(self._scan.configs)} configs in {len(self._scan.families)} families"

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

    def _workspace_key(self) -> Optional[str]:
        return self._connection.workspace_key() if self._connection else None

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


def _separator() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line


def _dropped_folder(urls: List[QUrl]) -> Optional[Path]:
    """Return the first dropped URL that is a local folder, else None."""
    for url in urls:
        if url.isLocalFile():
            path = Path(url.toLocalFile())
            if path.is_dir():
                return path
    return None


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


def _grid_files(results: List[ToolResult]) -> List[Path]:
    grids: List[Path] = []
    for result in results:
        if result.tool not in GRID_TOOLS or result.status not in (Status.OK, Status.WARNING):
            continue
        grids += [Path(p) for p in result.local_files if p.lower().endswith(IMAGE_SUFFIXES)]
    return grids
