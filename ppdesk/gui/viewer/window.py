"""ImageViewerWindow: a window that pages through images and validation grids.

Keys belong to the window's actions (``]`` next image, ``[`` previous image,
``F`` fit and more), and F1 lists them with the keys the view and the grid
overlay handle. Page Up and Page Down are left to scrolling, because a tall
grid needs them more than a list of images does. On a grid with a sidecar the
arrow keys move the highlighted cell and Return opens it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QUrl, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QIcon,
    QImage,
    QImageReader,
    QKeySequence,
    QResizeEvent,
)
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QStyle, QWidget

from ..shortcuts_dialog import ShortcutsDialog, show_shortcuts
from .actions import GRID_EXTRA_ROWS, VIEW_EXTRA_ROWS, create_shortcuts_action, create_zoom_actions, make_action
from .grid_overlay import GridOverlay
from .image_view import ImageView
from .loader import ImageLoader, LoadedImage, LocalFileCheck
from .toolbars import add_toolbars, wrap_toolbars
from .saver import SaveTask
from .sidecar import GridCell

log = logging.getLogger(__name__)

SampleOpener = Callable[[GridCell], None]
# Called with the shown image when the user picks "Compare with…".
CompareOpener = Callable[[Path], None]


def supported_suffixes() -> set[str]:
    """Return the lower-case file suffixes (with dot) that Qt can decode here."""
    return {"." + bytes(name.data()).decode("ascii").lower() for name in QImageReader.supportedImageFormats()}


class ImageViewerWindow(QMainWindow):
    """Show a list of images one at a time; image files dropped on it replace the list.

    Signals:
    ``image_loaded(Path)``: an image is decoded and on screen.
    ``load_failed(Path, str)``: the current image could not be read.
    ``cell_activated(GridCell)``: a grid cell was clicked or opened with Return.
    ``saved(Path)`` / ``save_failed(Path, str)``: the result of Save as….

    Set ``sample_opener`` to a callable taking the GridCell to decide how a
    clicked cell's sample is opened (the main window fetches it from the pod).
    Without one, a sample whose ``source`` exists on this machine opens here,
    after a check on a pool thread.
    Cells without a ``source`` (a missing sample) only emit cell_activated.

    Set ``compare_opener`` to a callable taking the shown image's Path to
    decide what "Compare with…" offers (the main window adds its grids).
    Without one, it opens a compare window over this window's images.
    """

    image_loaded = Signal(object)
    load_failed = Signal(object, str)
    cell_activated = Signal(object)
    saved = Signal(object)
    save_failed = Signal(object, str)

    def __init__(
        self,
        parent: QWidget | None = None,
        sample_opener: SampleOpener | None = None,
        compare_opener: CompareOpener | None = None,
    ) -> None:
        super().__init__(parent)
        self.sample_opener = sample_opener
        self.compare_opener = compare_opener
        self._compare_window: QWidget | None = None
        self._paths: list[Path] = []
        self._index = -1
        self._image = QImage()
        self._save_tasks: set[SaveTask] = set()

        self.view = ImageView(self)
        self.setCentralWidget(self.view)
        self.overlay = GridOverlay(self.view)
        self.overlay.cell_activated.connect(self._on_cell_activated)
        self._loader = ImageLoader(self)
        self._loader.loaded.connect(self._on_loaded)
        self._loader.failed.connect(self._on_failed)
        self._file_check = LocalFileCheck(self)
        self._file_check.checked.connect(self._on_sample_checked)

        self._zoom_label = QLabel(self)
        self._position_label = QLabel(self)
        self.statusBar().addPermanentWidget(self._position_label)
        self.statusBar().addPermanentWidget(self._zoom_label)
        self.view.zoom_changed.connect(self._update_zoom_label)

        self._create_actions()
        self.setAcceptDrops(True)
        self.resize(1100, 800)
        self._update_state()

    # Public API ---------------------------------------------------------

    def open_images(self, paths: list[Path], index: int = 0) -> None:
        """Replace the image list with ``paths`` and show ``paths[index]`` (clamped)."""
        self._paths = [Path(path) for path in paths]
        if not self._paths:
            self._index = -1
            self._loader.cancel()
            self._image = QImage()
            self.view.set_image(None)
            self.overlay.set_sidecar(None)
            self._update_state()
            return
        self.show_index(min(max(index, 0), len(self._paths) - 1))

    def paths(self) -> list[Path]:
        """Return the images this window pages through."""
        return list(self._paths)

    def current_index(self) -> int:
        """Return the index in paths() of the image shown or loading, or -1 without images."""
        return self._index

    def current_path(self) -> Path | None:
        """Return the path of the image shown or loading, or None."""
        return self._paths[self._index] if 0 <= self._index < len(self._paths) else None

    def current_image(self) -> QImage:
        """Return the decoded image on screen, a null QImage while none is loaded."""
        return self._image

    def show_index(self, index: int) -> None:
        """Start loading image ``index`` of paths(); the old one stays on screen until it arrives."""
        if not 0 <= index < len(self._paths):
            raise IndexError(f"image index {index} is outside 0..{len(self._paths) - 1}")
        self._index = index
        path = self._paths[index]
        self.statusBar().showMessage(f"Loading {path.name}…")
        self._loader.load(path)
        self._update_state()

    def next_image(self) -> None:
        """Show the next image of the list, if there is one."""
        if self._index + 1 < len(self._paths):
            self.show_index(self._index + 1)

    def previous_image(self) -> None:
        """Show the previous image of the list, if there is one."""
        if self._index > 0:
            self.show_index(self._index - 1)

    def save_as(self, dest: Path | None = None) -> None:
        """Save a copy of the shown image to ``dest``, or ask for a file name when None.

        The copy is written on a worker thread; ``saved`` or ``save_failed`` reports it.
        """
        source = self.current_path()
        if source is None or self._image.isNull():
            return
        if dest is None:
            chosen, _filter = QFileDialog.getSaveFileName(
                self, "Save image as", str(source), "Images (*.jpg *.jpeg *.png *.webp);;All files (*)"
            )
            if not chosen:
                return
            dest = Path(chosen)

        task = SaveTask(source, self._image, Path(dest), self)
        task.setAutoDelete(False)
        task.signals.saved.connect(lambda path, t=task: self._on_saved(t, path))
        task.signals.failed.connect(lambda path, message, t=task: self._on_save_failed(t, path, message))
        self._save_tasks.add(task)
        self.statusBar().showMessage(f"Saving {Path(dest).name}…")
        task.start()

    def open_containing_folder(self) -> None:
        """Open the folder of the shown image in the desktop's file manager."""
        path = self.current_path()
        if path is None:
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent))):
            self.statusBar().showMessage(f"Opening the folder {path.parent} failed: no file manager is configured for folders")

    def compare_with(self) -> None:
        """Open the shown image in a side-by-side compare, through ``compare_opener`` when set."""
        path = self.current_path()
        if path is None:
            return
        if self.compare_opener is not None:
            self.compare_opener(path)
            return
        from ..compare import CompareWindow

        if self._compare_window is None:
            self._compare_window = CompareWindow()
            self._compare_window.setWindowIcon(self.windowIcon())
        window = self._compare_window
        assert isinstance(window, CompareWindow)
        window.compare(path, self._paths)
        window.show()
        window.raise_()

    def copy_to_clipboard(self) -> None:
        """Put the shown image on the clipboard."""
        if self._image.isNull():
            return
        QGuiApplication.clipboard().setImage(self._image)
        self.statusBar().showMessage("Image copied to the clipboard", 3000)

    # Drag and drop ------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_images(event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = self._dropped_images(event.mimeData().urls())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        log.info("opening %d dropped image(s)", len(paths))
        self.open_images(paths)

    def _dropped_images(self, urls: list[QUrl]) -> list[Path]:
        suffixes = supported_suffixes()
        paths = [Path(url.toLocalFile()) for url in urls if url.isLocalFile()]
        return [path for path in paths if path.suffix.lower() in suffixes]

    # Slots ----------------------------------------------------------------

    @Slot(object)
    def _on_loaded(self, result: LoadedImage) -> None:
        self._image = result.image
        self.view.set_image(result.image)
        self.overlay.set_sidecar(result.sidecar)
        if result.sidecar_error:
            self.statusBar().showMessage(f"Grid cells unavailable: {result.sidecar_error}")
        else:
            self.statusBar().clearMessage()
        self._update_state()
        self.image_loaded.emit(result.path)

    @Slot(object, str)
    def _on_failed(self, path: Path, message: str) -> None:
        self._image = QImage()
        self.view.set_image(None)
        self.overlay.set_sidecar(None)
        self.view.set_message(message)
        self.statusBar().showMessage(message)
        self._update_state()
        self.load_failed.emit(path, message)

    @Slot(object)
    def _on_cell_activated(self, cell: GridCell) -> None:
        self.cell_activated.emit(cell)
        if not cell.source:
            self.statusBar().showMessage(f"This cell has no sample: {cell.error or 'no source file'}", 5000)
            return
        if self.sample_opener is not None:
            self.sample_opener(cell)
            return
        self._file_check.check(Path(cell.source))

    @Slot(object, bool)
    def _on_sample_checked(self, sample: Path, exists: bool) -> None:
        if exists:
            self.show_sample(sample)
        else:
            self.statusBar().showMessage(
                f"The sample {sample} is not on this machine; open the grid from the ppdesk window to fetch it", 5000
            )

    def show_sample(self, sample: Path) -> None:
        """Show a grid sample right after the grid, so ``[`` returns to the grid."""
        if sample in self._paths:
            self.show_index(self._paths.index(sample))
            return
        self._paths.insert(self._index + 1, sample)
        self.show_index(self._index + 1)

    def _on_saved(self, task: SaveTask, dest: Path) -> None:
        self._save_tasks.discard(task)
        self.statusBar().showMessage(f"Saved {dest}", 5000)
        self.saved.emit(dest)

    def _on_save_failed(self, task: SaveTask, dest: Path, message: str) -> None:
        self._save_tasks.discard(task)
        self.statusBar().showMessage(f"Saving {dest} failed: {message}")
        self.save_failed.emit(dest, message)

    # Actions and labels ---------------------------------------------------

    def _create_actions(self) -> None:
        style = self.style()
        self.open_action = make_action(self, "&Open…", self._ask_open, [QKeySequence.StandardKey.Open], icon_text="Open…")
        # Ctrl+S too, because Qt's table of standard keys binds Save As only
        # on GNOME and macOS (Ctrl+Shift+S), so elsewhere it would have none.
        self.save_action = make_action(
            self,
            "&Save as…",
            self.save_as,
            [QKeySequence.StandardKey.Save, QKeySequence.StandardKey.SaveAs],
            style.standardIcon(QStyle.StandardPixmap.SP_DialogSaveButton),
            "Save as…",
            "Save a copy of this image",
        )
        self.copy_action = make_action(
            self, "&Copy image", self.copy_to_clipboard, [QKeySequence.StandardKey.Copy], QIcon.fromTheme("edit-copy"), "Copy"
        )
        self.folder_action = make_action(
            self,
            "Open containing &folder",
            self.open_containing_folder,
            icon=style.standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon),
            icon_text="Open folder",
            description="Show this image's folder in the file manager",
        )
        self.close_action = make_action(self, "&Close", self.close, [QKeySequence.StandardKey.Close])

        self.previous_action = make_action(
            self, "&Previous image", self.previous_image, ["["], style.standardIcon(QStyle.StandardPixmap.SP_ArrowBack), "Previous"
        )
        self.next_action = make_action(
            self, "&Next image", self.next_image, ["]"], style.standardIcon(QStyle.StandardPixmap.SP_ArrowForward), "Next"
        )
        zoom = create_zoom_actions(self, lambda: self.view)
        self.fit_action, self.actual_action = zoom.fit, zoom.actual
        self.zoom_in_action, self.zoom_out_action = zoom.zoom_in, zoom.zoom_out
        self.compare_action = make_action(
            self,
            "Compare &with…",
            self.compare_with,
            ["C"],
            icon_text="Compare…",
            description="Show this image beside another one, zoomed and panned together",
        )
        self.shortcuts_action = create_shortcuts_action(self, self.show_shortcuts)

        self._fill_menus()
        self._fill_toolbar()

    def _menu_layout(self) -> dict[str, list[QAction | None]]:
        """Return each menu's title and actions, None for a separator."""
        return {
            "&File": [self.open_action, self.save_action, self.copy_action, self.folder_action, None, self.close_action],
            "&View": [
                self.previous_action,
                self.next_action,
                None,
                self.fit_action,
                self.actual_action,
                self.zoom_in_action,
                self.zoom_out_action,
                None,
                self.compare_action,
            ],
            "&Help": [self.shortcuts_action],
        }

    def _fill_menus(self) -> None:
        for title, actions in self._menu_layout().items():
            menu = self.menuBar().addMenu(title)
            for action in actions:
                if action is None:
                    menu.addSeparator()
                else:
                    menu.addAction(action)

    def _fill_toolbar(self) -> None:
        self.toolbars = add_toolbars(
            self,
            [
                ("Navigation", [self.previous_action, self.next_action]),
                ("Zoom", [self.fit_action, self.actual_action, self.zoom_out_action, self.zoom_in_action]),
                ("Image", [self.compare_action, self.save_action, self.copy_action, self.folder_action]),
                ("Help", [self.shortcuts_action]),
            ],
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        wrap_toolbars(self, self.toolbars)
        super().resizeEvent(event)

    def shortcut_actions(self) -> list[QAction]:
        """Return every menu action in menu order. The shortcuts dialog lists those with keys."""
        return [action for actions in self._menu_layout().values() for action in actions if action is not None]

    def show_shortcuts(self) -> ShortcutsDialog:
        """Show the non-modal list of this window's keys and mouse actions, and return it."""
        return show_shortcuts(
            self, "Image viewer shortcuts", self.shortcut_actions(), VIEW_EXTRA_ROWS + GRID_EXTRA_ROWS
        )

    def _ask_open(self) -> None:
        patterns = " ".join(f"*{suffix}" for suffix in sorted(supported_suffixes()))
        chosen, _filter = QFileDialog.getOpenFileNames(self, "Open images", "", f"Images ({patterns})")
        if chosen:
            self.open_images([Path(name) for name in chosen])

    def _update_state(self) -> None:
        path = self.current_path()
        has_image = not self._image.isNull()
        self.setWindowTitle(f"{path.name} – ppdesk viewer" if path else "ppdesk viewer")
        self.previous_action.setEnabled(self._index > 0)
        self.next_action.setEnabled(0 <= self._index < len(self._paths) - 1)
        for action in (self.save_action, self.copy_action, self.fit_action, self.actual_action, self.zoom_in_action, self.zoom_out_action):
            action.setEnabled(has_image)
        self.folder_action.setEnabled(path is not None)
        self.compare_action.setEnabled(path is not None)

        parts = []
        if path is not None:
            parts.append(f"{self._index + 1} of {len(self._paths)}")
        if has_image:
            parts.append(f"{self._image.width()} × {self._image.height()} px")
        if self.overlay.sidecar is not None:
            grid = self.overlay.sidecar
            parts.append(f"grid {grid.row_count} steps × {grid.column_count} prompts")
        self._position_label.setText("   ".join(parts))
        self._update_zoom_label(self.view.zoom())

    @Slot(float)
    def _update_zoom_label(self, zoom: float) -> None:
        text = f"Zoom {zoom * 100:.0f} %" if zoom >= 0.1 else f"Zoom {zoom * 100:.1f} %"
        if self.view.is_fit():
            text += " (fit)"
        self._zoom_label.setText(text)
