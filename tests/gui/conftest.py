"""Fixtures for the GUI tests: private settings, a demo workspace and a main window."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator, List

import pytest
from PySide6.QtCore import QSettings

from ppdesk.demo import build_demo_workspace
from ppdesk.gui.main_window import MainWindow
from ppdesk.gui.state import WindowState, ini_settings
from ppdesk.remote.local import LocalTransport
from ppdesk.remote.profiles import ProfileStore

# A scan or a small tool run on the demo workspace takes about a second; this
# bounds a hang, it is not a performance assertion.
WAIT_MS = 60_000


@pytest.fixture(autouse=True)
def private_qsettings(tmp_path: Path) -> None:
    """Point every default QSettings at a temporary folder, so no test reads or writes the user's."""
    folder = tmp_path / "qsettings"
    folder.mkdir()
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_workspace(tmp_path_factory.mktemp("demo-template") / "workspace")


@pytest.fixture
def demo_root(tmp_path: Path, demo_template: Path) -> Path:
    """A fresh copy of the demo workspace, because tools write into it."""
    root = tmp_path / "workspace"
    shutil.copytree(demo_template, root, symlinks=True)
    return root


@pytest.fixture
def window_state(tmp_path: Path) -> WindowState:
    return WindowState(ini_settings(tmp_path / "state.ini"))


@pytest.fixture
def opened_images() -> List[List[Path]]:
    return []


@pytest.fixture
def window(qtbot, window_state: WindowState, tmp_path: Path, opened_images: List[List[Path]]) -> Iterator[MainWindow]:
    """A shown main window whose image viewer calls are recorded in ``opened_images``."""
    win = MainWindow(window_state, profiles=ProfileStore(tmp_path / "profiles.json"), demo_parent=tmp_path / "cache")
    win.show_images = opened_images.append
    win.confirm = lambda _title, _text: True
    qtbot.addWidget(win)
    win.show()
    yield win
    if win.isVisible():
        win.close()
    win.pool.wait(WAIT_MS)


@pytest.fixture
def connected(qtbot, window: MainWindow, demo_root: Path) -> MainWindow:
    """The main window after connecting to the demo workspace and scanning it."""
    with qtbot.waitSignal(window.scanFinished, timeout=WAIT_MS):
        window.add_transport(LocalTransport.for_root(demo_root), "Demo workspace")
    return window
