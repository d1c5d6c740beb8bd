"""The main window's widgets and menus."""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ppdesk.gui.banner import MessageBanner
from ppdesk.gui.log_panel import LogPanel
from ppdesk.gui.progress import ProgressPanel
from ppdesk.gui.results_table import ResultsTable
from ppdesk.gui.selection import SelectionPanel
from ppdesk.gui.shortcuts_dialog import ShortcutRow

# Rows of the shortcuts list for keys and mouse actions that no menu action owns.
MAIN_EXTRA_ROWS: tuple[ShortcutRow, ...] = (
    ("Esc", "Cancel the run, while its progress panel shows"),
    ("Double-click or Enter on a result", "Open the result's images in the image viewer"),
    ("Drop a folder on the window", "Use it as the destination"),
)


class WindowWidgetsMixin:
    """The widgets and menus of :class:`MainWindow`, connected to its slots.

    A mixin for :class:`~ppdesk.gui.main_window.MainWindow` only. The
    window calls :meth:`_build_widgets` and :meth:`_build_menus` once.
    """

    def _build_widgets(self) -> None:
        top = QVBoxLayout()
        top.setSpacing(8)
        top.addLayout(self._build_connection_row())
        top.addWidget(_separator())
        self.selection = SelectionPanel()
        self.selection.selectionChanged.connect(self._on_selection_changed)
        top.addWidget(self.selection)
        top.addLayout(self._build_destination_row())
        top.addLayout(self._build_tools_row())

        # Progress, message banner, then results over log in a splitter.
        self.progress = ProgressPanel(titles=self.titles)
        self.progress.cancelRequested.connect(self.cancel_run)
        self.banner = MessageBanner()
        self._build_results_and_log()

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

    def _build_connection_row(self) -> QHBoxLayout:
        """Build the row of saved profiles and local workspaces, Connect and the connection status."""
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
        return connection_row

    def _build_destination_row(self) -> QHBoxLayout:
        self.destination_edit = QLineEdit()
        self.destination_edit.setObjectName("destinationEdit")
        self.destination_edit.setPlaceholderText("Local folder for grids, config backups and outputs (or drop a folder here)")
        self.destination_edit.setClearButtonEnabled(True)
        self.destination_edit.editingFinished.connect(self._on_destination_edited)
        self.destination_edit.textChanged.connect(self._on_destination_text)
        self.choose_button = QPushButton(self.style().standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon), "Choose...")
        self.choose_button.clicked.connect(self.choose_destination)
        destination_label = QLabel("&Destination:")
        destination_label.setBuddy(self.destination_edit)
        destination_row = QHBoxLayout()
        destination_row.addWidget(destination_label)
        destination_row.addWidget(self.destination_edit, 1)
        destination_row.addWidget(self.choose_button)
        return destination_row

    def _build_tools_row(self) -> QHBoxLayout:
        """Build one button per tool, the Include base model row check box, then the post-process button."""
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

        self.pp_button = QPushButton(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "Run post-process")
        self.pp_button.setObjectName("postProcessButton")
        self.pp_button.setToolTip("Run all five tools on every selected config (Ctrl+Enter)")
        self.pp_button.setDefault(True)
        self.pp_button.setMinimumHeight(36)
        font = self.pp_button.font()
        font.setBold(True)
        self.pp_button.setFont(font)
        self.pp_button.clicked.connect(self.run_post_process)
        tools_row.addWidget(self.pp_button)
        return tools_row

    def _build_results_and_log(self) -> None:
        """Build the results table under its title bar, over the log panel, in ``self.splitter``."""
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
        # Qt binds no Quit key on some platforms (offscreen here), so Ctrl+Q is used where it gives none.
        quit_key = QKeySequence(QKeySequence.StandardKey.Quit)
        quit_action = self._action(file_menu, "&Quit", self.close, quit_key if not quit_key.isEmpty() else "Ctrl+Q")
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
        self.shortcuts_action = self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, "F1")
        # Also the platform's own help key where that is not F1. Qt calls a key
        # that one action lists twice ambiguous and then triggers nothing.
        help_key = QKeySequence(QKeySequence.StandardKey.HelpContents)
        if not help_key.isEmpty() and help_key != QKeySequence("F1"):
            self.shortcuts_action.setShortcuts([QKeySequence("F1"), help_key])
        self.shortcuts_action.setToolTip("List the keys of this window")
        about = self._action(help_menu, "&About ppdesk", self.show_about)
        about.setMenuRole(QAction.MenuRole.AboutRole)

    def menu_actions(self) -> List[QAction]:
        """Return the actions of every menu in the menu bar, in menu order, without separators."""
        actions: List[QAction] = []
        for menu_action in self.menuBar().actions():
            menu = menu_action.menu()
            if menu is not None:
                actions += [action for action in menu.actions() if not action.isSeparator()]
        return actions

    def _action(self, menu: Any, text: str, slot: Callable[..., Any], shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action


def _separator() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line
