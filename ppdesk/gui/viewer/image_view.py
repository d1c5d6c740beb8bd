"""A zoomable, pannable image view built on QGraphicsView.

Scene coordinates are image pixel coordinates: the pixmap sits at (0, 0) with
a device pixel ratio of 1. The zoom factor is stated in device pixels per
image pixel, so a zoom of 1.0 ("100 %") shows one image pixel on one screen
pixel even on a high-DPI screen. The view transform's scale is therefore
``zoom / devicePixelRatio``.
"""

from __future__ import annotations

import logging
from typing import Callable

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QHelpEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QToolTip,
    QWidget,
)

log = logging.getLogger(__name__)

ZOOM_STEP = 1.25
MIN_ZOOM = 0.005
MAX_ZOOM = 64.0
# One notch of a classic mouse wheel reports 120 units of angleDelta.
WHEEL_NOTCH = 120.0

# Given a point in image pixels, return (tooltip text, image-pixel rectangle the
# text belongs to) or None for no tooltip.
TooltipProvider = Callable[[QPointF], "tuple[str, QRectF] | None"]
# Return True when the key press was handled and the view should ignore it.
KeyHandler = Callable[[QKeyEvent], bool]


class ImageView(QGraphicsView):
    """Show one QImage with fit, 100 %, wheel zoom under the cursor and drag panning.

    Keys (when the view has focus and no window action takes them first):
    ``+``/``=`` zoom in, ``-`` zoom out, ``0`` 100 %, ``F`` fit. Arrow and Page
    keys without modifiers scroll unless a key handler takes them.

    Signals:
    ``zoom_changed(float)``: the new zoom in device pixels per image pixel.
    ``view_changed()``: zoom or scroll position changed (for linked views).
    ``image_clicked(QPointF)``: a left click without dragging, in image pixels.
    """

    zoom_changed = Signal(float)
    view_changed = Signal()
    image_clicked = Signal(QPointF)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self._pixmap_item = QGraphicsPixmapItem()
        self._pixmap_item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self._scene.addItem(self._pixmap_item)
        self._highlight = self._make_highlight()

        self._zoom = 1.0
        self._fit = True
        self._message = ""
        self._press_position: QPointF | None = None
        self._batch_depth = 0
        self._tooltip_provider: TooltipProvider | None = None
        self._key_handler: KeyHandler | None = None

        self._configure()

    # Public API ---------------------------------------------------------

    def set_image(self, image: QImage | None) -> None:
        """Show ``image`` (None clears the view) and fit it to the window. GUI thread only."""
        self.set_highlight(None)
        if image is None or image.isNull():
            self._pixmap_item.setPixmap(QPixmap())
            self._scene.setSceneRect(QRectF())
        else:
            self._pixmap_item.setPixmap(QPixmap.fromImage(image))
            self._scene.setSceneRect(QRectF(0, 0, image.width(), image.height()))
            self._message = ""
        self.fit_to_window()
        self.viewport().update()

    def has_image(self) -> bool:
        """Return whether an image is shown."""
        return not self._pixmap_item.pixmap().isNull()

    def image_size(self) -> tuple[int, int]:
        """Return the shown image's (width, height) in pixels, (0, 0) without an image."""
        pixmap = self._pixmap_item.pixmap()
        return pixmap.width(), pixmap.height()

    def pixmap(self) -> QPixmap:
        """Return the pixmap on screen, a null QPixmap without an image."""
        return self._pixmap_item.pixmap()

    def set_message(self, text: str) -> None:
        """Show ``text`` centred over the view, for example a load error; '' removes it."""
        self._message = text
        self.viewport().update()

    def zoom(self) -> float:
        """Return the zoom in device pixels per image pixel (1.0 is 100 %)."""
        return self._zoom

    def is_fit(self) -> bool:
        """Return whether the view is in fit mode, which refits on every resize."""
        return self._fit

    def fit_zoom(self) -> float:
        """Return the zoom at which the whole image fits the viewport, at most one image pixel per logical pixel."""
        width, height = self.image_size()
        if width == 0 or height == 0:
            return 1.0
        available = self.maximumViewportSize()
        scale = min(available.width() / width, available.height() / height, 1.0)
        return max(scale * self._ratio(), MIN_ZOOM)

    def fit_to_window(self) -> None:
        """Scale the image to fit the viewport and centre it; stay in fit mode until the next zoom."""
        self._fit = True
        self._apply_zoom(self.fit_zoom(), None)
        self.centerOn(self._scene.sceneRect().center())

    def zoom_actual(self) -> None:
        """Zoom to 100 %: one image pixel per device pixel."""
        self.set_zoom(1.0)

    def zoom_in(self) -> None:
        """Zoom in one step around the viewport centre."""
        self.set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        """Zoom out one step around the viewport centre."""
        self.set_zoom(self._zoom / ZOOM_STEP)

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` (clamped) keeping the image point under ``anchor`` in place.

        ``anchor`` is in viewport coordinates; None means the viewport centre.
        Leaves fit mode.
        """
        self._fit = False
        self._apply_zoom(zoom, anchor)

    def relative_center(self) -> tuple[float, float]:
        """Return the image point at the viewport centre as fractions (0..1) of the image size."""
        width, height = self.image_size()
        if width == 0 or height == 0:
            return 0.5, 0.5
        center = self._viewport_center_in_scene()
        return center.x() / width, center.y() / height

    def set_relative_center(self, fx: float, fy: float) -> None:
        """Scroll so the image point at fractions (fx, fy) of the image size is at the viewport centre."""
        width, height = self.image_size()
        if width and height:
            self._batched(lambda: self.centerOn(QPointF(fx * width, fy * height)))

    def set_highlight(self, rect: QRectF | None, ensure_visible: bool = True) -> None:
        """Draw a highlight frame around ``rect`` (image pixels) and scroll it into view; None hides it."""
        if rect is None:
            self._highlight.hide()
            return
        self._highlight.setRect(rect)
        self._highlight.show()
        if ensure_visible:
            self.ensureVisible(rect, 24, 24)

    def highlight_rect(self) -> QRectF | None:
        """Return the highlighted rectangle in image pixels, or None."""
        return self._highlight.rect() if self._highlight.isVisible() else None

    def set_tooltip_provider(self, provider: TooltipProvider | None) -> None:
        """Ask ``provider`` for the tooltip of the image point under the mouse."""
        self._tooltip_provider = provider

    def set_key_handler(self, handler: KeyHandler | None) -> None:
        """Offer every key press to ``handler`` before the view's own keys."""
        self._key_handler = handler

    # Qt event handlers ----------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if not self.has_image() or delta == 0:
            event.ignore()
            return
        self.set_zoom(self._zoom * ZOOM_STEP ** (delta / WHEEL_NOTCH), event.position())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self._key_handler is not None and self._key_handler(event):
            event.accept()
            return
        # Ctrl, Alt and Meta combinations are left to the window, so that
        # Ctrl+F or Ctrl+Up neither fit nor scroll.
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if modifiers & ~Qt.KeyboardModifier.ShiftModifier:
            event.ignore()
            return
        actions = {
            Qt.Key.Key_Plus: self.zoom_in,
            Qt.Key.Key_Equal: self.zoom_in,
            Qt.Key.Key_Minus: self.zoom_out,
            Qt.Key.Key_0: self.zoom_actual,
            Qt.Key.Key_F: self.fit_to_window,
        }
        key = Qt.Key(event.key())
        action = actions.get(key)
        # Some keyboard layouts need Shift to type "+" or a digit, but no
        # layout needs it for a letter, so Shift+F is not F.
        if modifiers and Qt.Key.Key_A.value <= key.value <= Qt.Key.Key_Z.value:
            action = None
        if action is not None:
            action()
            event.accept()
        elif modifiers:
            event.ignore()
        else:
            super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press_position = event.position()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        pressed, self._press_position = self._press_position, None
        if pressed is None or event.button() != Qt.MouseButton.LeftButton:
            return
        moved = (event.position() - pressed).manhattanLength()
        if moved >= QApplication.startDragDistance():
            return
        point = self._map_to_scene(event.position())
        if self._scene.sceneRect().contains(point):
            self.image_clicked.emit(point)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit:
            self.fit_to_window()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.DevicePixelRatioChange:
            # Keep the zoom in device pixels when the window moves to a screen
            # with another scale factor.
            if self._fit:
                self.fit_to_window()
            else:
                self._apply_zoom(self._zoom, None)
        return super().event(event)

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            self._show_tooltip(event)
            return True
        return super().viewportEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._message:
            return
        painter = QPainter(self.viewport())
        painter.setPen(QColor(230, 230, 230))
        painter.drawText(
            self.viewport().rect().adjusted(24, 24, -24, -24),
            Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
            self._message,
        )
        painter.end()

    # Helpers --------------------------------------------------------------

    def _configure(self) -> None:
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QColor(40, 40, 40))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        # Drops go to the window that owns the view, which decides what to open.
        self.setAcceptDrops(False)
        self.viewport().setAcceptDrops(False)
        self.horizontalScrollBar().valueChanged.connect(self._emit_view_changed)
        self.verticalScrollBar().valueChanged.connect(self._emit_view_changed)

    def _make_highlight(self) -> QGraphicsRectItem:
        item = QGraphicsRectItem()
        pen = QPen(QColor(255, 196, 0), 3)
        # A cosmetic pen keeps its width in screen pixels at every zoom.
        pen.setCosmetic(True)
        item.setPen(pen)
        item.setZValue(1)
        item.hide()
        self._scene.addItem(item)
        return item

    def _ratio(self) -> float:
        return self.devicePixelRatioF() or 1.0

    def _apply_zoom(self, zoom: float, anchor: QPointF | None) -> None:
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        if anchor is None:
            anchor = QPointF(self.viewport().rect().center())
        fixed = self._map_to_scene(anchor)

        def transform() -> None:
            scale = zoom / self._ratio()
            self.setTransform(QTransform.fromScale(scale, scale))
            # Scroll so the anchored image point is back under the anchor.
            moved = self.viewportTransform().map(fixed) - anchor
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + round(moved.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() + round(moved.y()))

        # Enlarged pixels stay sharp squares; reduced images are filtered.
        mode = Qt.TransformationMode.FastTransformation if zoom >= 1.0 else Qt.TransformationMode.SmoothTransformation
        self._pixmap_item.setTransformationMode(mode)
        changed = zoom != self._zoom
        self._zoom = zoom
        self._batched(transform)
        if changed:
            self.zoom_changed.emit(zoom)

    def _batched(self, change: Callable[[], None]) -> None:
        """Run ``change`` with view_changed emitted once afterwards instead of per scroll bar move."""
        self._batch_depth += 1
        try:
            change()
        finally:
            self._batch_depth -= 1
        if self._batch_depth == 0:
            self.view_changed.emit()

    def _emit_view_changed(self) -> None:
        if self._batch_depth == 0:
            self.view_changed.emit()

    def _map_to_scene(self, point: QPointF) -> QPointF:
        inverse, _invertible = self.viewportTransform().inverted()
        return inverse.map(point)

    def _viewport_center_in_scene(self) -> QPointF:
        return self._map_to_scene(QPointF(self.viewport().rect().center()))

    def _show_tooltip(self, event: QHelpEvent) -> None:
        found = None
        if self._tooltip_provider is not None and self.has_image():
            found = self._tooltip_provider(self._map_to_scene(QPointF(event.pos())))
        if found is None:
            QToolTip.hideText()
            return
        text, rect = found
        area = self.mapFromScene(rect).boundingRect()
        QToolTip.showText(event.globalPos(), text, self.viewport(), area)
