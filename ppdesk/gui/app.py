"""Start the desktop application."""

from __future__ import annotations

import logging
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

import ppdesk
from ppdesk.gui.main_window import MainWindow
from ppdesk.gui.state import APPLICATION, ORGANISATION

if TYPE_CHECKING:
    from ppdesk.remote.transport import Transport

log = logging.getLogger(__name__)


def app_icon() -> QIcon:
    """Return the application icon built from the bundled PNGs: ppdesk.png (256 px) and its other sizes."""
    icon = QIcon()
    folder = resources.files("ppdesk.resources") / "icons"
    names = [f"ppdesk-{size}.png" for size in (16, 24, 32, 48, 64, 128)] + ["ppdesk.png", "ppdesk-512.png"]
    for name in names:
        entry = folder / name
        if entry.is_file():
            with resources.as_file(entry) as path:
                icon.addFile(str(path))
    return icon


def ensure_application() -> QApplication:
    """Return the running QApplication, creating it with ppdesk's names when none exists."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    QApplication.setOrganizationName(ORGANISATION)
    QApplication.setApplicationName(APPLICATION)
    QApplication.setApplicationVersion(ppdesk.__version__)
    app = QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    app.setDesktopFileName("ppdesk")
    return app


def run_gui(transport: Optional["Transport"] = None) -> int:
    """Open the main window and run the event loop; return the exit status.

    With ``transport`` the window connects to it and scans at once (the CLI
    passes a LocalTransport for ``--demo``), so no dialog is needed.
    """
    from ppdesk.remote.profiles import ProfileStore

    app = ensure_application()
    window = MainWindow(profiles=ProfileStore())
    window.setWindowIcon(app.windowIcon())
    window.show()
    if transport is not None:
        # Connect once the event loop runs, so the window paints first.
        QTimer.singleShot(0, lambda: window.add_transport(transport, _label_for(transport)))
    log.info("ppdesk %s started", ppdesk.__version__)
    return app.exec()


def _label_for(transport: "Transport") -> str:
    """Return "Demo workspace" for the generated demo (it has a marker file), else the transport's label."""
    from ppdesk.demo import MARKER_NAME

    root = getattr(getattr(transport, "layout", None), "root", "")
    if root and (Path(root) / MARKER_NAME).is_file():
        return "Demo workspace"
    return transport.describe()
