"""Labelled toolbars that wrap onto more rows when the window is too narrow for one.

QMainWindow never wraps a toolbar by itself: buttons that do not fit go
behind an extension arrow, where they are easy to miss. Splitting the buttons into
a few small toolbars and inserting toolbar breaks as the window narrows keeps
every button visible, with its text.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QToolBar


def add_toolbars(window: QMainWindow, groups: Iterable[tuple[str, Sequence[QAction]]]) -> list[QToolBar]:
    """Add one fixed toolbar per (name, actions) group to the top of ``window``, and return them.

    Every button shows its text: a button whose action has an icon shows the
    text beside it, the others show text only. The toolbars cannot be moved,
    because :func:`wrap_toolbars` decides where the rows break.
    """
    toolbars = []
    for name, actions in groups:
        toolbar = window.addToolBar(name)
        toolbar.setObjectName(name.lower().replace(" ", "-") + "-toolbar")
        toolbar.setMovable(False)
        toolbar.setFloatable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in actions:
            toolbar.addAction(action)
        toolbars.append(toolbar)
    return toolbars


def wrap_toolbars(window: QMainWindow, toolbars: Sequence[QToolBar]) -> int:
    """Break the toolbar rows of ``window`` so that every row fits its width, and return the row count.

    Rows fill in order: a toolbar starts a new row when it would not fit
    beside the ones before it. A toolbar wider than the window alone still
    gets a row to itself, and Qt puts its last buttons behind the extension
    arrow. Call it on every resize of the window.
    """
    available = window.width()
    used = 0
    rows = 1 if toolbars else 0
    for toolbar in toolbars:
        width = toolbar.sizeHint().width()
        new_row = used > 0 and used + width > available
        if new_row != window.toolBarBreak(toolbar):
            if new_row:
                window.insertToolBarBreak(toolbar)
            else:
                window.removeToolBarBreak(toolbar)
        if new_row:
            rows += 1
            used = width
        else:
            used += width
    return rows
