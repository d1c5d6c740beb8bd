"""Save a copy of the shown image on a worker thread ("Save as…")."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Signal
from PySide6.QtGui import QImage

from .loader import image_pool

log = logging.getLogger(__name__)


def save_image_copy(source: Path, image: QImage, dest: Path) -> None:
    """Write the image to ``dest``; safe on any thread. Raises OSError.

    When ``dest`` has the source's suffix the file is copied byte for byte, so a
    JPEG is not encoded a second time. Otherwise the decoded image is encoded
    in the format that the suffix names. The file is written under a temporary
    name and renamed, so ``dest`` never contains half an image.
    """
    partial = dest.with_name(dest.name + ".part")
    try:
        if source.suffix.lower() == dest.suffix.lower() and source.is_file():
            shutil.copyfile(source, partial)
        else:
            image_format = dest.suffix.lstrip(".").upper() or "PNG"
            if not image.save(str(partial), image_format):
                raise OSError(f"encoding the image as {image_format} for {dest} failed: choose a .png or .jpg file name")
        os.replace(partial, dest)
    finally:
        if partial.exists():
            partial.unlink()


class _SaveSignals(QObject):
    saved = Signal(object)
    failed = Signal(object, str)


class SaveTask(QRunnable):
    """Run save_image_copy on the image pool; create it on the GUI thread.

    ``signals.saved(Path dest)`` or ``signals.failed(Path dest, str message)``
    is emitted once, delivered on the GUI thread.
    """

    def __init__(self, source: Path, image: QImage, dest: Path, parent: QObject | None = None) -> None:
        super().__init__()
        self.source = source
        self.image = image
        self.dest = dest
        self.signals = _SaveSignals(parent)

    def start(self) -> None:
        """Queue the save on the image pool."""
        image_pool().start(self)

    def run(self) -> None:
        try:
            save_image_copy(self.source, self.image, self.dest)
        except OSError as exc:
            log.warning("saving %s to %s failed: %s", self.source, self.dest, exc)
            self.signals.failed.emit(self.dest, str(exc))
            return
        log.info("saved %s to %s", self.source, self.dest)
        self.signals.saved.emit(self.dest)
