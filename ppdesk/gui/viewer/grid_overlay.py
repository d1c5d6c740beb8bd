"""Cell tooltips, clicks and keyboard navigation for a validation grid shown in an ImageView."""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent

from .image_view import ImageView
from .sidecar import GridCell, GridSidecar, describe_cell

log = logging.getLogger(__name__)

# Arrow key -> (row step, column step). Rows are training steps, columns prompts.
_MOVES = {
    Qt.Key.Key_Left: (0, -1),
    Qt.Key.Key_Right: (0, 1),
    Qt.Key.Key_Up: (-1, 0),
    Qt.Key.Key_Down: (1, 0),
}


class GridOverlay(QObject):
    """Tie a GridSidecar to an ImageView: tooltips on hover, highlight, click and arrow keys.

    The sidecar's coordinates are scaled to the shown image when the two sizes
    differ (a grid that was reduced after the sidecar was written).

    Signals: ``cell_activated(GridCell)`` on a click on a cell or Return on the
    highlighted cell.
    """

    cell_activated = Signal(object)

    def __init__(self, view: ImageView) -> None:
        super().__init__(view)
        self._view = view
        self._sidecar: GridSidecar | None = None
        self._scale_x = 1.0
        self._scale_y = 1.0
        self._highlighted: GridCell | None = None
        view.set_tooltip_provider(self._tooltip_at)
        view.set_key_handler(self._handle_key)
        view.image_clicked.connect(self._on_clicked)

    @property
    def sidecar(self) -> GridSidecar | None:
        """The sidecar of the shown image, or None for an ordinary image."""
        return self._sidecar

    @property
    def highlighted(self) -> GridCell | None:
        """The cell with the highlight frame, or None."""
        return self._highlighted

    def set_sidecar(self, sidecar: GridSidecar | None) -> None:
        """Use ``sidecar`` for the image now shown in the view (call after ImageView.set_image)."""
        self._sidecar = sidecar
        self._highlighted = None
        self._view.set_highlight(None)
        width, height = self._view.image_size()
        if sidecar is not None and sidecar.width and sidecar.height and width and height:
            self._scale_x = width / sidecar.width
            self._scale_y = height / sidecar.height
        else:
            self._scale_x = self._scale_y = 1.0

    def cell_at(self, point: QPointF) -> GridCell | None:
        """Return the cell under ``point`` (image pixels), or None."""
        if self._sidecar is None:
            return None
        return self._sidecar.cell_at(point.x() / self._scale_x, point.y() / self._scale_y)

    def cell_rect(self, cell: GridCell) -> QRectF:
        """Return the rectangle of ``cell`` in image pixels."""
        return QRectF(
            cell.x * self._scale_x,
            cell.y * self._scale_y,
            cell.w * self._scale_x,
            cell.h * self._scale_y,
        )

    def hover_text_at(self, point: QPointF) -> str | None:
        """Return the plain-text tooltip for the image point, or None outside every cell."""
        cell = self.cell_at(point)
        return describe_cell(cell) if cell is not None else None

    def highlight(self, cell: GridCell | None) -> None:
        """Frame ``cell`` and scroll it into view; None removes the frame."""
        self._highlighted = cell
        self._view.set_highlight(self.cell_rect(cell) if cell is not None else None)

    def move_highlight(self, row_step: int, column_step: int) -> GridCell | None:
        """Move the frame by whole cells; the first move starts at the cell in the viewport centre."""
        if self._sidecar is None or not self._sidecar.cells:
            return None
        if self._highlighted is None:
            center = self._view.mapToScene(self._view.viewport().rect().center())
            start = self.cell_at(QPointF(center)) or self._sidecar.cells[0]
            self.highlight(start)
            return start
        target = self._sidecar.neighbour(self._highlighted, row_step, column_step)
        self.highlight(target)
        return target

    def _tooltip_at(self, point: QPointF) -> tuple[str, QRectF] | None:
        cell = self.cell_at(point)
        if cell is None:
            return None
        # Rich text makes Qt wrap a long prompt instead of showing one wide line.
        lines = [html.escape(line) for line in describe_cell(cell).split("\n")]
        lines[0] = "<b>" + lines[0].replace(" ", "&nbsp;") + "</b>"
        if cell.error:
            lines[-1] = f"<span style='color:#c00'>{lines[-1]}</span>"
        return "<p>" + "<br>".join(lines) + "</p>", self.cell_rect(cell)

    def _handle_key(self, event: QKeyEvent) -> bool:
        if self._sidecar is None or event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return False
        key = Qt.Key(event.key())
        if key in _MOVES:
            self.move_highlight(*_MOVES[key])
            return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self._highlighted is not None:
            self.cell_activated.emit(self._highlighted)
            return True
        if key == Qt.Key.Key_Escape and self._highlighted is not None:
            self.highlight(None)
            return True
        return False

    @Slot(QPointF)
    def _on_clicked(self, point: QPointF) -> None:
        cell = self.cell_at(point)
        if cell is None:
            return
        self.highlight(cell)
        log.debug("grid cell clicked: step %s, %s", cell.step, cell.shortname)
        self.cell_activated.emit(cell)
