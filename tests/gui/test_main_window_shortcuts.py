"""Help > Keyboard shortcuts of the main window: F1 lists the keys of the real menu actions."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from ppdesk.gui.main_window import MainWindow
from ppdesk.gui.shortcuts_dialog import ShortcutsDialog, action_label, key_text
from ppdesk.gui.window_widgets import MAIN_EXTRA_ROWS

# Bounds a hang of a tool run on the demo workspace; not a performance assertion.
WAIT_MS = 60_000


def native(text: str) -> str:
    return QKeySequence(text).toString(QKeySequence.SequenceFormat.NativeText)


def press_f1(qtbot, window: MainWindow) -> ShortcutsDialog:
    qtbot.waitExposed(window)
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_F1)
    dialog = window.findChild(ShortcutsDialog)
    assert dialog is not None
    return dialog


def test_f1_opens_shortcuts_list(qtbot, window: MainWindow):
    dialog = press_f1(qtbot, window)

    assert dialog.isVisible()
    assert dialog.windowTitle() == "ppdesk shortcuts"


def test_help_menu_has_shortcuts_entry(window: MainWindow):
    help_menu = window.menuBar().actions()[-1].menu()
    labels = [action_label(action) for action in help_menu.actions()]

    assert labels[0] == "Keyboard shortcuts"
    assert native("F1") in key_text(window.shortcuts_action.shortcuts()).split(" or ")


def test_list_matches_menu_actions(qtbot, window: MainWindow):
    actions = [action for action in window.menu_actions() if key_text(action.shortcuts())]
    expected = [(key_text(action.shortcuts()), action_label(action)) for action in actions]

    rows = press_f1(qtbot, window).rows()

    assert len(actions) == 15
    assert rows[: len(expected)] == expected
    assert rows[len(expected):] == list(MAIN_EXTRA_ROWS)


def test_list_names_known_actions(qtbot, window: MainWindow):
    rows = dict((what, keys) for keys, what in press_f1(qtbot, window).rows())

    assert rows["Connect..."] == native("Ctrl+K")
    assert rows["Rescan workspace"] == QKeySequence(QKeySequence.StandardKey.Refresh).toString(
        QKeySequence.SequenceFormat.NativeText
    )
    assert rows["Choose destination..."] == native("Ctrl+D")
    assert rows["Image viewer"] == native("Ctrl+I")
    assert rows["Output browser"] == native("Ctrl+B")
    assert rows["Compare..."] == native("Ctrl+Shift+C")
    assert rows["Post-process"] == native("Ctrl+Return")
    assert rows["Quit"] == native("Ctrl+Q")
    assert rows["Keyboard shortcuts"].split(" or ")[0] == native("F1")
    for number, title in enumerate(window.titles.values(), start=1):
        assert rows[title] == native(f"Ctrl+{number}")


def test_keyless_actions_left_out(qtbot, window: MainWindow):
    listed = {what for _keys, what in press_f1(qtbot, window).rows()}

    assert "Open demo workspace" not in listed
    assert "Cancel run" not in listed
    assert "Clear results" not in listed
    assert "About ppdesk" not in listed


def test_second_f1_reuses_dialog(qtbot, window: MainWindow):
    first = press_f1(qtbot, window)
    first.close()

    second = press_f1(qtbot, window)

    assert second is first
    assert len(window.findChildren(ShortcutsDialog)) == 1


def test_escape_cancels_shown_progress(qtbot, window: MainWindow):
    qtbot.waitExposed(window)
    window.activateWindow()
    window.progress.begin("Post-process", steps=1)
    qtbot.waitUntil(window.progress.isVisible)

    with qtbot.waitSignal(window.progress.cancelRequested, timeout=5000):
        QTest.keyClick(window, Qt.Key.Key_Escape)

    assert window.progress.cancel_button.text() == "Cancelling..."


def test_enter_on_result_opens_grid(qtbot, connected: MainWindow, tmp_path: Path, opened_images: List[List[Path]]):
    dest = tmp_path / "out"
    connected.set_destination(str(dest))
    assert connected.selection.select("sofia", "sofia_001_lr1e-4")
    with qtbot.waitSignal(connected.runFinished, timeout=WAIT_MS):
        assert connected.run_tools(["vg"]) is not None
    opened_images.clear()
    table = connected.results
    table.setFocus()
    # Row 0 is the run's header, row 1 its validation grid result.
    table.setCurrentIndex(table.results_model.index(1, 0))

    QTest.keyClick(table, Qt.Key.Key_Return)

    grid = dest / "sofia_001_lr1e-4" / "grids" / "sofia_001_lr1e-4-validation-grid.jpg"
    assert opened_images == [[grid]]


@pytest.mark.parametrize(
    ("key", "focused"),
    [(Qt.Key.Key_W, "connectionCombo"), (Qt.Key.Key_A, "familyCombo"), (Qt.Key.Key_O, "configCombo"),
     (Qt.Key.Key_D, "destinationEdit")],
)
def test_label_mnemonics_focus_fields(qtbot, connected: MainWindow, key: Qt.Key, focused: str):
    qtbot.waitExposed(connected)
    connected.activateWindow()
    connected.results.setFocus()

    QTest.keyClick(connected, key, Qt.KeyboardModifier.AltModifier)

    assert QApplication.focusWidget().objectName() == focused


def test_alt_f_opens_file_menu(qtbot, connected: MainWindow):
    qtbot.waitExposed(connected)
    connected.activateWindow()
    file_menu = connected.menuBar().actions()[0].menu()

    QTest.keyClick(connected, Qt.Key.Key_F, Qt.KeyboardModifier.AltModifier)

    qtbot.waitUntil(file_menu.isVisible, timeout=5000)
    file_menu.close()
