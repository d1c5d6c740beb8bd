"""CompareWindow: two images side by side in views that zoom and pan together."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from .shortcuts_dialog import ShortcutsDialog, set_tooltip_with_shortcut, show_shortcuts
from .viewer.actions import VIEW_EXTRA_ROWS, create_shortcuts_action, create_zoom_actions, make_action
from .viewer.image_view import ImageView
from .viewer.loader import ImageLoader, LoadedImage

log = logging.getLogger(__name__)

_GRID_KIND = re.compile(r"-(validation|dataset)-grid\.[^.]+$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")

COMPARE_EXTRA_ROWS = (
    ("Click on an image", "Send the zoom and scroll keys to that side"),
    *VIEW_EXTRA_ROWS,
)


def pick_partner(paths: list[Path], index: int) -> int:
    """Return the index of the image in ``paths`` that ``paths[index]`` is best compared with.

    The best partner has the same name apart from its numbers (another step
    of the same prompt, or the same grid of a sibling config such as
    ``sofia_002``), then the same kind of grid (validation or dataset) of
    another config, then the same file type. Returns ``index`` itself when
    ``paths`` has no other image.
    """
    if not 0 <= index < len(paths):
        raise IndexError(f"image index {index} is outside 0..{len(paths) - 1}")
    chosen = paths[index]
    best, best_score = index, -1
    for position, path in enumerate(paths):
        if position == index or path == chosen:
            continue
        score = _partner_score(chosen, path)
        if score > best_score:
            best, best_score = position, score
    return best


def _partner_score(chosen: Path, other: Path) -> int:
    if _DIGITS.sub("#", chosen.name) == _DIGITS.sub("#", other.name):
        return 3
    kind = _GRID_KIND.search(chosen.name)
    other_kind = _GRID_KIND.search(other.name)
    if kind and other_kind and kind.group(1).lower() == other_kind.group(1).lower():
        return 2
    return 1 if chosen.suffix.lower() == other.suffix.lower() else 0


class ComparePane(QWidget):
    """One side of the comparison: a chooser of image paths, a label and an ImageView.

    Signals: ``image_loaded(Path)`` once the chosen image is on screen and
    ``load_failed(Path, str)`` when it cannot be read.
    """

    image_loaded = Signal(object)
    load_failed = Signal(object, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chooser = QComboBox(self)
        self.chooser.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.chooser.setMinimumContentsLength(20)
        self.chooser.currentIndexChanged.connect(self._on_chosen)
        self.label = QLabel(self)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.view = ImageView(self)
        self.replacing_image = False
        self._loader = ImageLoader(self)
        self._loader.loaded.connect(self._on_loaded)
        self._loader.failed.connect(self._on_failed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.chooser)
        layout.addWidget(self.label)
        layout.addWidget(self.view, 1)

    def set_paths(self, paths: list[Path], index: int) -> None:
        """Fill the chooser with ``paths`` and load ``paths[index]`` (clamped)."""
        self.chooser.blockSignals(True)
        self.chooser.clear()
        for path in paths:
            self.chooser.addItem(_display_name(path, paths), str(path))
            self.chooser.setItemData(self.chooser.count() - 1, str(path), Qt.ItemDataRole.ToolTipRole)
        self.chooser.blockSignals(False)
        if paths:
            self.chooser.setCurrentIndex(min(max(index, 0), len(paths) - 1))
            self._on_chosen(self.chooser.currentIndex())

    def current_path(self) -> Path | None:
        """Return the chosen image path, or None when the chooser is empty."""
        data = self.chooser.currentData()
        return Path(data) if data else None

    @Slot(int)
    def _on_chosen(self, index: int) -> None:
        path = self.current_path()
        if index < 0 or path is None:
            return
        self.label.setText(f"Loading {path.name}…")
        self._loader.load(path)

    @Slot(object)
    def _on_loaded(self, result: LoadedImage) -> None:
        # The fit that set_image applies must not drive a linked view.
        self.replacing_image = True
        try:
            self.view.set_image(result.image)
        finally:
            self.replacing_image = False
        self.label.setText(f"{result.image.width()} × {result.image.height()} px — {result.path.parent}")
        self.label.setToolTip(str(result.path))
        self.image_loaded.emit(result.path)

    @Slot(object, str)
    def _on_failed(self, path: Path, message: str) -> None:
        self.view.set_image(None)
        self.view.set_message(message)
        self.label.setText(f"{path.name} could not be loaded")
        self.load_failed.emit(path, message)


class CompareWindow(QMainWindow):
    """Two ComparePanes whose views share zoom and, in relative terms, scroll position.

    The shared position is the image point at the viewport centre as a fraction
    of each image's size, so images of different sizes stay aligned by content
    when they show the same scene at different resolutions.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare – ppdesk")
        self.left = ComparePane(self)
        self.right = ComparePane(self)
        self.link_box = QCheckBox("Zoom and pan together", self)
        self.link_box.setChecked(True)
        self.link_box.toggled.connect(self._on_link_toggled)
        self._syncing = False

        splitter = QSplitter(self)
        splitter.addWidget(self.left)
        splitter.addWidget(self.right)
        splitter.setChildrenCollapsible(False)
        top = QHBoxLayout()
        top.addWidget(self.link_box)
        top.addStretch(1)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)

        for source, target in ((self.left, self.right), (self.right, self.left)):
            source.view.view_changed.connect(lambda s=source, t=target: self._follow(s, t))
            # A newly loaded image adopts the other side's zoom and position.
            source.image_loaded.connect(lambda _path, s=source, t=target: self._follow(t, s))
        self._create_actions()
        self.resize(1300, 800)

    def _create_actions(self) -> None:
        # Ctrl+W and Escape close the window, as Close does in the image viewer.
        self.close_action = make_action(
            self, "&Close", self.close, [QKeySequence.StandardKey.Close, QKeySequence(Qt.Key.Key_Escape)]
        )
        zoom = create_zoom_actions(self, lambda: self.focused_pane().view)
        self.zoom_actions = zoom.all()
        for action in self.zoom_actions:
            set_tooltip_with_shortcut(action, "Acts on the side with the focus, and on both while they are linked")
        self.shortcuts_action = create_shortcuts_action(self, self.show_shortcuts)

        menus = {"&File": [self.close_action], "&View": self.zoom_actions, "&Help": [self.shortcuts_action]}
        for title, actions in menus.items():
            menu = self.menuBar().addMenu(title)
            for action in actions:
                menu.addAction(action)

    def focused_pane(self) -> ComparePane:
        """Return the pane holding the keyboard focus, or the left pane when neither does."""
        focus = QApplication.focusWidget()
        if focus is not None and self.right.isAncestorOf(focus):
            return self.right
        return self.left

    def shortcut_actions(self) -> list[QAction]:
        """Return the actions listed in the shortcuts dialog, in menu order."""
        return [self.close_action, *self.zoom_actions, self.shortcuts_action]

    def show_shortcuts(self) -> ShortcutsDialog:
        """Show the non-modal list of this window's keys and mouse actions, and return it."""
        return show_shortcuts(self, "Compare shortcuts", self.shortcut_actions(), COMPARE_EXTRA_ROWS)

    @property
    def linked(self) -> bool:
        """Return whether the two views zoom and pan together."""
        return self.link_box.isChecked()

    def set_linked(self, linked: bool) -> None:
        """Turn linked zoom and panning on or off."""
        self.link_box.setChecked(linked)

    def set_images(self, paths: list[Path], left: int = 0, right: int = 1) -> None:
        """Offer ``paths`` in both choosers and show ``paths[left]`` and ``paths[right]``."""
        paths = [Path(path) for path in paths]
        self.left.set_paths(paths, left)
        self.right.set_paths(paths, right)

    def compare(self, path: Path, candidates: list[Path]) -> None:
        """Show ``path`` on the left and its best partner among ``candidates`` on the right.

        Both choosers offer ``path`` and every candidate, without repeats, so
        the user can pick another partner.
        """
        paths: list[Path] = [Path(path)]
        for candidate in candidates:
            if Path(candidate) not in paths:
                paths.append(Path(candidate))
        self.set_images(paths, 0, pick_partner(paths, 0))

    def _follow(self, source: ComparePane, target: ComparePane) -> None:
        """Give ``target``'s view the zoom and relative centre of ``source``'s view."""
        if self._syncing or source.replacing_image or not self.linked:
            return
        if not source.view.has_image() or not target.view.has_image():
            return
        self._syncing = True
        try:
            target.view.set_zoom(source.view.zoom())
            target.view.set_relative_center(*source.view.relative_center())
        finally:
            self._syncing = False

    @Slot(bool)
    def _on_link_toggled(self, linked: bool) -> None:
        if linked:
            self._follow(self.left, self.right)


def _display_name(path: Path, paths: list[Path]) -> str:
    """Return the file name, with its folder when another path has the same name."""
    if sum(1 for other in paths if other.name == path.name) > 1:
        return f"{path.parent.name}/{path.name}"
    return path.name

