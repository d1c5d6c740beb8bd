"""Placement of secondary windows (viewer, compare, output browser) on the screen.

A new window opens beside its anchor, usually the main window, when the
screen has room there, else offset from the anchor's top-left corner, so it
never covers the anchor exactly. The geometry a user gives a window is
remembered in :class:`~ppdesk.gui.state.WindowState` and wins over both.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtWidgets import QWidget

log = logging.getLogger(__name__)

# Pixels between a window placed beside its anchor and the anchor.
BESIDE_GAP = 8
# Offset, in pixels to the right and down, of a window that has no room beside its anchor.
CASCADE_OFFSET = 48


def placement_rect(size: QSize, anchor: QRect, screen: QRect) -> QRect:
    """Return the rectangle for a window of ``size`` next to ``anchor`` inside ``screen``.

    Tries right of the anchor, then left of it, then the anchor's corner
    moved by :data:`CASCADE_OFFSET`. The result is shrunk and moved to lie
    inside ``screen``. All rectangles are in global screen pixels, and
    ``screen`` is assumed larger than :data:`CASCADE_OFFSET` both ways.
    """
    width = min(size.width(), screen.width())
    height = min(size.height(), screen.height())
    right = anchor.right() + 1 + BESIDE_GAP
    left = anchor.left() - BESIDE_GAP - width
    if right + width <= screen.right() + 1:
        origin = QPoint(right, anchor.top())
    elif left >= screen.left():
        origin = QPoint(left, anchor.top())
    else:
        # Shrunk by the offset, so that clamping to the screen cannot move it back onto the anchor's corner.
        width = min(width, screen.width() - CASCADE_OFFSET)
        height = min(height, screen.height() - CASCADE_OFFSET)
        origin = anchor.topLeft() + QPoint(CASCADE_OFFSET, CASCADE_OFFSET)

    x = max(screen.left(), min(origin.x(), screen.right() + 1 - width))
    y = max(screen.top(), min(origin.y(), screen.bottom() + 1 - height))
    return QRect(x, y, width, height)


def place_near(window: QWidget, anchor: QWidget) -> None:
    """Move and, when needed, shrink the not yet shown ``window`` next to ``anchor``."""
    screen = anchor.screen()
    if screen is None:
        return
    rect = placement_rect(window.size(), anchor.frameGeometry(), screen.availableGeometry())
    log.debug("placing %s at %s", window.objectName() or type(window).__name__, rect)
    window.resize(rect.size())
    window.move(rect.topLeft())
