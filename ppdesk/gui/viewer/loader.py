"""Load images (and their grid sidecars) on a worker thread.

Decoding a 20,000 px tall grid takes long enough to freeze a window, so
:class:`ImageLoader` decodes into a QImage on a pool thread and hands it back
through a queued signal. QImage may be created off the GUI thread; the
receiver turns it into a QPixmap on the GUI thread. Only the newest request of
a loader is reported, so a result that arrives after the user moved on is
dropped.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QImageReader

from .sidecar import GridSidecar, SidecarError, load_sidecar

log = logging.getLogger(__name__)

# Qt 6 refuses to decode images that need more than 256 MB by default. A
# validation grid of many steps and prompts can exceed that (a 10,000 x 20,000
# RGB32 grid is 800 MB), so the reader gets a higher limit.
ALLOCATION_LIMIT_MB = 2048

_pool: QThreadPool | None = None


def image_pool() -> QThreadPool:
    """Return the thread pool shared by image loads, created on first use (GUI thread).

    It is separate from the global pool so long downloads cannot starve image
    loads, and it runs two loads at a time.
    """
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(2)
        _pool.setObjectName("ppdesk-image-loads")
    return _pool


@dataclass(frozen=True)
class LoadedImage:
    """The result of one load: the decoded image and, for a validation grid, its sidecar.

    ``sidecar_error`` is a message when a sidecar exists but could not be read;
    the image is still usable then.
    """

    path: Path
    image: QImage
    sidecar: GridSidecar | None
    sidecar_error: str | None


class ImageLoadError(Exception):
    """An image file could not be read or decoded; the message names the file and the reason."""


def read_image(path: Path) -> QImage:
    """Decode ``path`` into a QImage in a format that converts to QPixmap without a copy.

    Tries Qt's readers first and falls back to Pillow for formats Qt lacks.
    EXIF orientation is applied. Safe to call on any thread. Raises
    ImageLoadError.
    """
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    reader.setAllocationLimit(ALLOCATION_LIMIT_MB)
    image = reader.read()
    if image.isNull():
        qt_error = reader.errorString()
        log.debug("Qt could not decode %s (%s); trying Pillow", path, qt_error)
        image = _read_with_pillow(path, qt_error)

    target = QImage.Format.Format_ARGB32_Premultiplied if image.hasAlphaChannel() else QImage.Format.Format_RGB32
    if image.format() != target:
        image = image.convertToFormat(target)
    return image


def _read_with_pillow(path: Path, qt_error: str) -> QImage:
    try:
        with Image.open(path) as opened:
            picture = ImageOps.exif_transpose(opened).convert("RGBA")
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError) as exc:
        raise ImageLoadError(f"decoding image {path} failed: {qt_error or exc}") from exc

    data = picture.tobytes("raw", "RGBA")
    wrapped = QImage(data, picture.width, picture.height, picture.width * 4, QImage.Format.Format_RGBA8888)
    # The QImage above borrows `data`; copy() gives it its own buffer.
    return wrapped.copy()


class _LoadSignals(QObject):
    succeeded = Signal(int, object)
    failed = Signal(int, object, str)


class _LoadTask(QRunnable):
    """Read one image and its sidecar on a pool thread and report through signals."""

    def __init__(self, token: int, path: Path, signals: _LoadSignals) -> None:
        super().__init__()
        self.token = token
        self.path = path
        self.signals = signals

    def run(self) -> None:
        reported = False
        try:
            image = read_image(self.path)
            sidecar, sidecar_error = self._read_sidecar()
            self.signals.succeeded.emit(self.token, LoadedImage(self.path, image, sidecar, sidecar_error))
            reported = True
        except ImageLoadError as exc:
            self.signals.failed.emit(self.token, self.path, str(exc))
            reported = True
        finally:
            if not reported:
                # An unexpected exception is on its way up to the pool's log;
                # still tell the window, which would otherwise wait forever.
                self.signals.failed.emit(self.token, self.path, f"internal error while loading {self.path}; see the log")

    def _read_sidecar(self) -> tuple[GridSidecar | None, str | None]:
        try:
            return load_sidecar(self.path), None
        except SidecarError as exc:
            log.warning("ignoring grid sidecar: %s", exc)
            return None, str(exc)


class ImageLoader(QObject):
    """Load one image at a time in the background; create and use it on the GUI thread.

    Signals (GUI thread, only for the newest request):
    ``loaded(LoadedImage)`` and ``failed(Path, str message)``.
    """

    loaded = Signal(object)
    failed = Signal(object, str)

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self._pool = pool or image_pool()
        self._tokens = itertools.count(1)
        self._current = 0
        self._pending: dict[int, _LoadTask] = {}
        self._signals = _LoadSignals(self)
        self._signals.succeeded.connect(self._on_succeeded)
        self._signals.failed.connect(self._on_failed)

    @property
    def busy(self) -> bool:
        """Whether the newest request has not reported yet."""
        return self._current in self._pending

    def load(self, path: Path) -> None:
        """Start loading ``path``; earlier requests still waiting in the queue are withdrawn."""
        self.cancel()
        token = next(self._tokens)
        self._current = token
        task = _LoadTask(token, Path(path), self._signals)
        task.setAutoDelete(False)
        self._pending[token] = task
        log.debug("loading image %s (request %d)", path, token)
        self._pool.start(task)

    def cancel(self) -> None:
        """Drop the result of every request made so far; queued ones never start."""
        for token, task in list(self._pending.items()):
            if self._pool.tryTake(task):
                del self._pending[token]
        self._current = 0

    @Slot(int, object)
    def _on_succeeded(self, token: int, result: LoadedImage) -> None:
        self._pending.pop(token, None)
        if token != self._current:
            log.debug("dropping stale image %s (request %d)", result.path, token)
            return
        self.loaded.emit(result)

    @Slot(int, object, str)
    def _on_failed(self, token: int, path: Path, message: str) -> None:
        self._pending.pop(token, None)
        if token != self._current:
            return
        log.warning("image load failed: %s", message)
        self.failed.emit(path, message)


class _FileCheckSignals(QObject):
    checked = Signal(object, bool)


class _FileCheckTask(QRunnable):
    def __init__(self, path: Path, signals: _FileCheckSignals) -> None:
        super().__init__()
        self.path = path
        self.signals = signals

    def run(self) -> None:
        # A stat on a stalled network mount can block for long, so it runs here and not on the GUI thread.
        exists = self.path.is_file()
        try:
            self.signals.checked.emit(self.path, exists)
        except RuntimeError:
            log.debug("dropped the check of %s: its window was deleted", self.path)


class LocalFileCheck(QObject):
    """Check on a pool thread whether local files exist; create and use it on the GUI thread.

    Emits ``checked(Path, bool exists)`` on the GUI thread once per
    :meth:`check` call.
    """

    checked = Signal(object, bool)

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self._pool = pool or image_pool()
        self._tasks: dict[Path, _FileCheckTask] = {}
        self._signals = _FileCheckSignals(self)
        self._signals.checked.connect(self._on_checked)

    def check(self, path: Path) -> None:
        """Start checking whether ``path`` is an existing regular file; a check already running is reused."""
        path = Path(path)
        if path in self._tasks:
            return
        task = _FileCheckTask(path, self._signals)
        task.setAutoDelete(False)
        self._tasks[path] = task
        self._pool.start(task)

    @Slot(object, bool)
    def _on_checked(self, path: Path, exists: bool) -> None:
        self._tasks.pop(path, None)
        self.checked.emit(path, exists)
