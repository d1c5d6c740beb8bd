"""A non-modal dialog that lists a window's keyboard shortcuts in a two-column table.

The rows come from the window's QAction objects, so the list shows the keys
the actions really have, in the platform's native text (``Ctrl+W`` here,
``⌘W`` on macOS). Keys that no action owns, such as the mouse wheel or arrow
keys handled by a widget, are passed as extra rows of plain text.
"""

from __future__ import annotations

import logging
from typing import Iterable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)

# Joins the key sequences of one action. A comma would be ambiguous, because
# "Ctrl+," is a valid sequence and Qt itself separates chords with ", ".
KEY_SEPARATOR = " or "

# (keys, action) as shown in one table row.
ShortcutRow = tuple[str, str]


def key_text(sequences: Iterable[QKeySequence]) -> str:
    """Return ``sequences`` in native text joined by " or ", skipping empty ones and repeats."""
    texts: list[str] = []
    for sequence in sequences:
        text = sequence.toString(QKeySequence.SequenceFormat.NativeText)
        if text and text not in texts:
            texts.append(text)
    return KEY_SEPARATOR.join(texts)


def action_label(action: QAction) -> str:
    """Return the action's text without mnemonic markers: "&Save as…" becomes "Save as…"."""
    # "&&" is a literal ampersand, every other "&" marks the mnemonic letter.
    parts = action.text().split("&&")
    return "&".join(part.replace("&", "") for part in parts)


def shortcut_rows(actions: Iterable[QAction], extra_rows: Iterable[ShortcutRow] = ()) -> list[ShortcutRow]:
    """Return one (keys, action) row per action that has a shortcut, then ``extra_rows``.

    Separators, actions without shortcuts and repeats of one action are
    skipped, so a list of menu actions can be passed as it is.
    """
    rows: list[ShortcutRow] = []
    seen: list[QAction] = []
    for action in actions:
        if action.isSeparator() or action in seen:
            continue
        seen.append(action)
        keys = key_text(action.shortcuts())
        if keys:
            rows.append((keys, action_label(action)))
    rows.extend((str(keys), str(what)) for keys, what in extra_rows)
    return rows


def set_tooltip_with_shortcut(action: QAction, description: str = "") -> None:
    """Set the action's tooltip to its label and keys, with ``description`` on a second line.

    Example: "Zoom in (+ or =)". Calling it again rebuilds the text, so it can
    follow a change of the action's shortcuts.
    """
    tooltip = action_label(action)
    keys = key_text(action.shortcuts())
    if keys:
        tooltip += f" ({keys})"
    if description:
        tooltip += "\n" + description
    action.setToolTip(tooltip)


class ShortcutsDialog(QDialog):
    """A table of (keys, action) rows with a Close button, which Escape presses too.

    The dialog is non-modal, so the user can go back to the window and try a
    shortcut while the list stays open.
    """

    def __init__(self, parent: QWidget | None, title: str, rows: Sequence[ShortcutRow]) -> None:
        super().__init__(parent)
        self.setModal(False)
        self.table = QTableWidget(0, 2, self)
        self.table.setHorizontalHeaderLabels(["Keys", "Action"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        # The same left padding in cells and headers keeps the texts aligned.
        self.table.setStyleSheet("QTableWidget::item { padding: 2px 10px; } QHeaderView::section { padding: 2px 10px; }")
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        # With the focus on Close, the table shows no focus frame on its first cell.
        buttons.button(QDialogButtonBox.StandardButton.Close).setFocus()
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.set_rows(title, rows)

    def set_rows(self, title: str, rows: Sequence[ShortcutRow]) -> None:
        """Replace the title and the table's rows, and resize the dialog to show them."""
        self.setWindowTitle(title)
        self.table.setRowCount(len(rows))
        for row, (keys, what) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(keys))
            self.table.setItem(row, 1, QTableWidgetItem(what))
        self.table.resizeColumnsToContents()
        self.table.resizeRowsToContents()
        self._fit_to_table()

    def rows(self) -> list[ShortcutRow]:
        """Return the (keys, action) texts of the table, top to bottom."""
        return [(self._cell_text(row, 0), self._cell_text(row, 1)) for row in range(self.table.rowCount())]

    def _cell_text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def _fit_to_table(self) -> None:
        # Size the table to show every row and both columns whole, up to 90 %
        # of the screen. A longer list scrolls.
        table = self.table
        width = table.frameWidth() * 2 + table.horizontalHeader().length() + table.verticalScrollBar().sizeHint().width()
        height = table.frameWidth() * 2 + table.horizontalHeader().height() + table.verticalHeader().length()
        screen = self.screen().availableGeometry()
        table.setMinimumSize(min(width, int(screen.width() * 0.9)), min(height, int(screen.height() * 0.9)))
        self.adjustSize()


def show_shortcuts(
    parent: QWidget,
    title: str,
    actions: Iterable[QAction],
    extra_rows: Iterable[ShortcutRow] = (),
) -> ShortcutsDialog:
    """Show the shortcuts dialog of ``parent`` without blocking it, and return the dialog.

    The rows are built by :func:`shortcut_rows`. The first call creates the
    dialog as a child of ``parent``. Later calls refill that same dialog and
    raise it, so a second key press never opens a second list. GUI thread only.
    """
    rows = shortcut_rows(actions, extra_rows)
    dialog = parent.findChild(ShortcutsDialog, "", Qt.FindChildOption.FindDirectChildrenOnly)
    if dialog is None:
        dialog = ShortcutsDialog(parent, title, rows)
    else:
        dialog.set_rows(title, rows)
    log.debug("showing %d shortcut rows for %s", len(rows), title)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
