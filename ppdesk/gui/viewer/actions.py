"""Actions and shortcut rows shared by the image viewer and the compare window.

Both windows zoom their ImageView through the same four actions, so the two
windows use the same keys, labels and tooltips for zooming.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QWidget

from ..shortcuts_dialog import ShortcutRow, set_tooltip_with_shortcut
from .image_view import ImageView

# Rows for input that ImageView handles itself, with no action behind it.
VIEW_EXTRA_ROWS: tuple[ShortcutRow, ...] = (
    ("Mouse wheel", "Zoom in or out around the pointer"),
    ("Drag", "Pan the image"),
    ("Arrow keys", "Scroll the image"),
    ("Page Up or Page Down", "Scroll the image by one page"),
)
# Rows for the keys GridOverlay takes while a grid with a sidecar is shown.
GRID_EXTRA_ROWS: tuple[ShortcutRow, ...] = (
    ("Arrow keys on a grid", "Move the highlight across prompts (left, right) and steps (up, down)"),
    ("Return or Enter on a grid", "Open the highlighted cell's sample"),
    ("Esc on a grid", "Remove the highlight"),
    ("Click on a grid", "Open the sample of the cell under the pointer"),
    ("Pointer on a grid", "Show the cell's step, prompt and sample file"),
)


def key_sequence(key: str | QKeySequence | QKeySequence.StandardKey) -> QKeySequence:
    """Return ``key`` as a QKeySequence. A standard key becomes its platform's primary binding."""
    if isinstance(key, QKeySequence):
        return key
    return QKeySequence(key)


def make_action(
    parent: QWidget,
    text: str,
    slot: Callable[[], object],
    keys: Iterable[str | QKeySequence | QKeySequence.StandardKey] = (),
    icon: QIcon | None = None,
    icon_text: str = "",
    description: str = "",
) -> QAction:
    """Create an action on ``parent`` that calls ``slot`` and shows its keys in its tooltip.

    ``keys`` become the shortcuts in their order, without repeats, and a
    standard key that has no binding on this platform is left out. ``icon_text`` is the short label a toolbar
    button shows. The action is added to ``parent``, so its shortcuts work
    while the window is active even when no menu or toolbar shows the action.
    """
    action = QAction(text, parent)
    if icon is not None and not icon.isNull():
        action.setIcon(icon)
    if icon_text:
        action.setIconText(icon_text)
    sequences: list[QKeySequence] = []
    for key in keys:
        sequence = key_sequence(key)
        if not sequence.isEmpty() and sequence not in sequences:
            sequences.append(sequence)
    action.setShortcuts(sequences)
    set_tooltip_with_shortcut(action, description)
    action.triggered.connect(lambda _checked=False: slot())
    parent.addAction(action)
    return action


@dataclass
class ZoomActions:
    """The four zoom actions of a window, in menu order."""

    fit: QAction
    actual: QAction
    zoom_in: QAction
    zoom_out: QAction

    def all(self) -> list[QAction]:
        """Return the actions in menu order: fit, 100 %, zoom in, zoom out."""
        return [self.fit, self.actual, self.zoom_in, self.zoom_out]


def create_zoom_actions(parent: QWidget, target: Callable[[], ImageView]) -> ZoomActions:
    """Create fit, 100 %, zoom in and zoom out actions acting on the view ``target()`` returns.

    Icons come from the desktop's icon theme by their freedesktop names. Where
    no theme has them, the actions have no icon and toolbars show text only.
    """
    return ZoomActions(
        fit=make_action(parent, "&Fit to window", lambda: target().fit_to_window(), ["F"], QIcon.fromTheme("zoom-fit-best"), "Fit"),
        actual=make_action(parent, "&100 %", lambda: target().zoom_actual(), ["0"], QIcon.fromTheme("zoom-original"), "100 %"),
        zoom_in=make_action(
            parent,
            "Zoom &in",
            lambda: target().zoom_in(),
            ["+", "=", QKeySequence.StandardKey.ZoomIn],
            QIcon.fromTheme("zoom-in"),
            "Zoom in",
        ),
        zoom_out=make_action(
            parent,
            "Zoom &out",
            lambda: target().zoom_out(),
            ["-", QKeySequence.StandardKey.ZoomOut],
            QIcon.fromTheme("zoom-out"),
            "Zoom out",
        ),
    )


def create_shortcuts_action(parent: QWidget, slot: Callable[[], object]) -> QAction:
    """Create the "Keyboard shortcuts" action: F1, plus the platform's help key where that differs."""
    return make_action(
        parent,
        "&Keyboard shortcuts",
        slot,
        ["F1", QKeySequence.StandardKey.HelpContents],
        QIcon.fromTheme("help-contents"),
        "Shortcuts",
        "List every key and mouse action of this window",
    )
