"""Shortcuts dialog: rows built from actions, native key text, tooltips, one dialog per window."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMainWindow

from ppdesk.gui.shortcuts_dialog import (
    ShortcutsDialog,
    action_label,
    key_text,
    set_tooltip_with_shortcut,
    shortcut_rows,
    show_shortcuts,
)


def native(text: str) -> str:
    return QKeySequence(text).toString(QKeySequence.SequenceFormat.NativeText)


@pytest.fixture
def main(qtbot):
    window = QMainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def make(window: QMainWindow, text: str, *keys: str) -> QAction:
    action = QAction(text, window)
    action.setShortcuts([QKeySequence(key) for key in keys])
    return action


def test_label_drops_mnemonics(main):
    assert action_label(make(main, "&Save as…")) == "Save as…"
    assert action_label(make(main, "Zoom &in")) == "Zoom in"
    assert action_label(make(main, "R&&D &notes")) == "R&D notes"


def test_key_text_native_and_deduplicated():
    sequences = [QKeySequence("Ctrl+S"), QKeySequence(), QKeySequence("Ctrl+Shift+S"), QKeySequence("Ctrl+S")]

    assert key_text(sequences) == f"{native('Ctrl+S')} or {native('Ctrl+Shift+S')}"


def test_rows_skip_separators_and_keyless(main):
    zoom = make(main, "Zoom &in", "+", "=")
    folder = make(main, "Open &folder")
    separator = QAction(main)
    separator.setSeparator(True)

    rows = shortcut_rows([zoom, separator, folder, zoom], [("Mouse wheel", "Zoom")])

    assert rows == [("+ or =", "Zoom in"), ("Mouse wheel", "Zoom")]


def test_tooltip_names_keys_and_description(main):
    action = make(main, "&Next image", "]")

    set_tooltip_with_shortcut(action, "Show the next file")
    assert action.toolTip() == "Next image (])\nShow the next file"

    action.setShortcuts([QKeySequence("]"), QKeySequence("Ctrl+N")])
    set_tooltip_with_shortcut(action)
    assert action.toolTip() == f"Next image (] or {native('Ctrl+N')})"


def test_tooltip_without_keys_is_label(main):
    action = make(main, "Open &folder")

    set_tooltip_with_shortcut(action)

    assert action.toolTip() == "Open folder"


def test_dialog_lists_rows_in_table(main):
    actions = [make(main, "&Close", "Ctrl+W"), make(main, "&Fit", "F")]

    dialog = show_shortcuts(main, "Test shortcuts", actions, [("Drag", "Pan")])

    assert isinstance(dialog, ShortcutsDialog)
    assert dialog.windowTitle() == "Test shortcuts"
    assert dialog.rows() == [(native("Ctrl+W"), "Close"), ("F", "Fit"), ("Drag", "Pan")]
    assert dialog.table.horizontalHeaderItem(0).text() == "Keys"
    assert dialog.table.horizontalHeaderItem(1).text() == "Action"
    assert dialog.isVisible()
    assert not dialog.isModal()


def test_dialog_shows_every_row_unscrolled(main):
    actions = [make(main, f"Action {number}", f"Ctrl+{number}") for number in range(10)]

    dialog = show_shortcuts(main, "Ten", actions)

    table = dialog.table
    assert table.verticalScrollBar().maximum() == 0
    assert table.horizontalScrollBar().maximum() == 0
    assert table.viewport().width() >= table.horizontalHeader().length()


def test_second_call_reuses_dialog(main):
    first = show_shortcuts(main, "One", [make(main, "&Fit", "F")])
    first.close()

    second = show_shortcuts(main, "Two", [make(main, "&Zoom", "Z")])

    assert second is first
    assert second.isVisible()
    assert second.windowTitle() == "Two"
    assert second.rows() == [("Z", "Zoom")]
    assert len(main.findChildren(ShortcutsDialog)) == 1


def test_escape_closes_dialog(qtbot, main):
    dialog = show_shortcuts(main, "Esc", [make(main, "&Fit", "F")])

    QTest.keyClick(dialog, Qt.Key.Key_Escape)

    assert not dialog.isVisible()
