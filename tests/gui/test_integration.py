"""The main window's integration: grid samples, compare, Download selected, About and the self-test."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import List

import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

import ppdesk
from ppdesk.gui.compare import CompareWindow, pick_partner
from ppdesk.gui.main_window import MainWindow
from ppdesk.gui.sample_fetch import resolve_sample
from ppdesk.gui.viewer import ImageViewerWindow
from ppdesk.remote.errors import RemoteFileError
from ppdesk.remote.local import LocalTransport
from ppdesk.remote.profiles import Profile, ProfileStore
from ppdesk.tools.base import Status

# Bounds a hang of a tool run, a fetch or an image load; not a performance assertion.
WAIT_MS = 120_000
REPO = Path(__file__).resolve().parents[2]
SELF_TEST_LIMIT_S = 240


def run_and_wait(qtbot, window: MainWindow, keys: List[str]):
    with qtbot.waitSignal(window.runFinished, timeout=WAIT_MS) as blocker:
        assert window.run_tools(keys) is not None, window.banner.text.text()
    return blocker.args[0]


@pytest.fixture
def grid_in_viewer(qtbot, connected: MainWindow, tmp_path: Path) -> MainWindow:
    """The connected window after a validation grid run of sofia_001_lr1e-4, shown in its real viewer."""
    connected.show_images = connected._open_in_viewer
    connected.set_destination(str(tmp_path / "out"))
    assert connected.selection.select("sofia", "sofia_001_lr1e-4")
    viewer = connected.image_viewer()
    with qtbot.waitSignal(viewer.image_loaded, timeout=WAIT_MS):
        run_and_wait(qtbot, connected, ["vg"])
    qtbot.waitExposed(viewer)
    assert viewer.overlay.sidecar is not None
    return connected


def click_cell(viewer: ImageViewerWindow, cell) -> None:
    centre = viewer.view.mapFromScene(QPointF(cell.x + cell.w / 2, cell.y + cell.h / 2))
    QTest.mouseClick(viewer.view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(centre.x(), centre.y()))


# Grid samples ------------------------------------------------------------


def test_sample_fetched_into_cache(qtbot, grid_in_viewer, tmp_path, demo_root):
    window = grid_in_viewer
    viewer = window.image_viewer()
    # Treat the local workspace as a pod: the sample must come through the transport.
    window.sample_fetcher().read_in_place = lambda: False
    cell = viewer.overlay.sidecar.cells[1]
    sample = Path(cell.sample_path(str(demo_root)))

    with qtbot.waitSignal(viewer.image_loaded, timeout=WAIT_MS) as blocker:
        click_cell(viewer, cell)

    cached = tmp_path / "out" / "sofia_001_lr1e-4" / "samples" / sample.name
    assert blocker.args == [cached]
    assert cached.read_bytes() == sample.read_bytes()
    assert viewer.current_path() == cached
    with Image.open(sample) as source:
        assert viewer.view.image_size() == source.size
    assert not list(cached.parent.glob("*.part"))


def test_sample_fetch_twice_reuses_cache(qtbot, grid_in_viewer, tmp_path):
    window = grid_in_viewer
    viewer = window.image_viewer()
    window.sample_fetcher().read_in_place = lambda: False
    cell = viewer.overlay.sidecar.cells[0]
    with qtbot.waitSignal(window.sample_fetcher().fetched, timeout=WAIT_MS) as first:
        window.open_sample(cell)
    before = first.args[1].path.stat().st_mtime_ns

    with qtbot.waitSignal(window.sample_fetcher().fetched, timeout=WAIT_MS) as second:
        window.open_sample(cell)

    assert second.args[1].path == first.args[1].path
    assert second.args[1].path.stat().st_mtime_ns == before
    assert second.args[1].note == ""


def test_local_sample_opens_in_place(qtbot, grid_in_viewer, tmp_path, demo_root):
    viewer = grid_in_viewer.image_viewer()
    cell = viewer.overlay.sidecar.cells[2]

    with qtbot.waitSignal(viewer.image_loaded, timeout=WAIT_MS) as blocker:
        click_cell(viewer, cell)

    assert blocker.args == [Path(cell.sample_path(str(demo_root)))]
    assert not (tmp_path / "out" / "sofia_001_lr1e-4" / "samples").exists()


def test_missing_sample_shows_message(qtbot, grid_in_viewer, demo_root):
    window = grid_in_viewer
    viewer = window.image_viewer()
    window.sample_fetcher().read_in_place = lambda: False
    cell = viewer.overlay.sidecar.cells[0]
    Path(cell.sample_path(str(demo_root))).unlink()

    with qtbot.waitSignal(window.sample_fetcher().failed, timeout=WAIT_MS):
        click_cell(viewer, cell)

    message = viewer.statusBar().currentMessage()
    assert message.startswith(f"Cannot open the sample {cell.source}:")
    assert "Traceback" not in message
    assert viewer.paths() == [window.grid_history[0]]


def test_resolve_sample_raises_for_missing_file(tmp_path, demo_root):
    transport = LocalTransport.for_root(demo_root)

    with pytest.raises(RemoteFileError):
        resolve_sample(str(demo_root / "no-such-sample.png"), transport, tmp_path / "cache", read_in_place=False)
    assert not (tmp_path / "cache" / "no-such-sample.png").exists()


def test_resolve_sample_without_transport(tmp_path):
    with pytest.raises(ValueError, match="connect to the workspace"):
        resolve_sample("/workspace/x.png", None, tmp_path / "cache", read_in_place=False)


# Compare -------------------------------------------------------------------


def test_pick_partner_prefers_sibling_grid():
    paths = [
        Path("out/max_001_base/grids/max_001_base-validation-grid.jpg"),
        Path("out/sofia_001_lr1e-4/grids/sofia_001_lr1e-4-dataset-grid.jpg"),
        Path("out/sofia_001_lr1e-4/grids/sofia_001_lr1e-4-validation-grid.jpg"),
        Path("out/sofia_002_lr5e-5/grids/sofia_002_lr5e-5-dataset-grid.jpg"),
        Path("out/sofia_002_lr5e-5/grids/sofia_002_lr5e-5-validation-grid.jpg"),
    ]

    assert pick_partner(paths, 2) == 4
    assert pick_partner(paths, 1) == 3
    assert pick_partner(paths, 0) == 2
    assert pick_partner(paths[:1], 0) == 0


def test_compare_menu_after_family_run(qtbot, connected, tmp_path):
    connected.set_destination(str(tmp_path / "out"))
    assert connected.selection.select("sofia")
    results = run_and_wait(qtbot, connected, ["vg"])
    assert all(r.status in (Status.OK, Status.WARNING) for r in results), [(r.config, r.message) for r in results]
    grids = connected.grid_history
    assert len(grids) >= 2

    connected.compare_action.trigger()
    compare = connected._compare
    assert isinstance(compare, CompareWindow)
    qtbot.waitExposed(compare)
    if not (compare.left.view.has_image() and compare.right.view.has_image()):
        qtbot.waitUntil(lambda: compare.left.view.has_image() and compare.right.view.has_image(), timeout=WAIT_MS)

    left, right = compare.left.current_path(), compare.right.current_path()
    assert left == grids[0]
    assert right in grids[1:]
    assert left.parent.parent != right.parent.parent
    assert right.name.endswith("-validation-grid.jpg")
    assert compare.right.chooser.count() == len(grids)

    compare.left.view.zoom_in()
    compare.left.view.zoom_in()
    assert compare.right.view.zoom() == pytest.approx(compare.left.view.zoom())
    compare.right.view.set_relative_center(0.25, 0.25)
    assert compare.left.view.relative_center() == pytest.approx(compare.right.view.relative_center(), abs=0.02)


def test_compare_with_from_viewer(qtbot, grid_in_viewer):
    window = grid_in_viewer
    viewer = window.image_viewer()
    shown = viewer.current_path()

    viewer.compare_action.trigger()

    compare = window._compare
    assert isinstance(compare, CompareWindow)
    assert compare.left.current_path() == shown
    assert compare.isVisible()


def test_compare_without_images_explains(connected):
    connected.compare_action.trigger()

    assert connected._compare is None
    assert "Nothing to compare" in connected.banner.text.text()


def test_standalone_viewer_compares_its_images(qtbot, tmp_path):
    paths = []
    for step in (100, 200):
        path = tmp_path / f"step_{step}_portrait_0.png"
        Image.new("RGB", (120, 90), (step, 40, 90)).save(path)
        paths.append(path)
    paths.append(tmp_path / "other.jpg")
    Image.new("RGB", (50, 50), "white").save(paths[-1])
    viewer = ImageViewerWindow()
    qtbot.addWidget(viewer)
    viewer.show()
    with qtbot.waitSignal(viewer.image_loaded, timeout=WAIT_MS):
        viewer.open_images(paths, 1)

    viewer.compare_with()

    compare = viewer._compare_window
    assert isinstance(compare, CompareWindow)
    qtbot.addWidget(compare)
    assert compare.left.current_path() == paths[1]
    assert compare.right.current_path() == paths[0]


# Output browser ---------------------------------------------------------------


def test_download_selected_two_configs(qtbot, connected, tmp_path):
    dest = tmp_path / "out"
    connected.set_destination(str(dest))
    connected.open_output_browser()
    browser = connected._browser
    qtbot.waitExposed(browser)
    browser.select_names(["max_002_env", "sofia_001_lr1e-4"])
    assert browser.download_button.isEnabled()
    step_labels: List[str] = []
    connected.runProgress.connect(lambda _event: step_labels.append(connected.progress.step_label.text()))

    with qtbot.waitSignal(connected.runFinished, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(browser.download_button, Qt.MouseButton.LeftButton)

    results = blocker.args[0]
    assert [(r.tool, r.config) for r in results] == [("do", "max_002_env"), ("do", "sofia_001_lr1e-4")]
    assert all(r.status is Status.OK for r in results), [(r.config, r.message) for r in results]
    assert step_labels
    assert set(step_labels) <= {"step 1 of 2", "step 2 of 2"}
    assert connected.progress.title_label.text().startswith("Download output")
    for name in ("max_002_env", "sofia_001_lr1e-4"):
        output = dest / name / "output"
        assert output.is_dir()
        assert any(path.is_file() for path in output.rglob("*"))
    assert len(connected.results.results()) == 2
    assert not connected.progress.isVisible()


# Profiles -------------------------------------------------------------------------


class ThreadRecordingStore(ProfileStore):
    """A ProfileStore that records the thread of every read."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.threads: List[int] = []

    def load(self) -> List[Profile]:
        self.threads.append(threading.get_ident())
        return super().load()


def test_profiles_load_in_worker(qtbot, tmp_path, window_state):
    store = ThreadRecordingStore(tmp_path / "profiles.json")
    store.save(Profile(name="pod-a", host="127.0.0.1", port=2222, key_file="/tmp/key"))
    window_state.last_profile = "pod-a"
    store.threads.clear()
    window = MainWindow(window_state, profiles=store)
    qtbot.addWidget(window)

    with qtbot.waitSignal(window.profilesLoaded, timeout=WAIT_MS) as blocker:
        pass

    assert blocker.args == [1]
    assert window.connection_combo.currentText() == "pod-a  (root@127.0.0.1:2222)"
    assert store.threads
    assert threading.get_ident() not in store.threads
    window.close()


def test_damaged_profiles_file_shows_banner(qtbot, tmp_path, window_state):
    path = tmp_path / "profiles.json"
    path.write_text("{not json", encoding="utf-8")
    window = MainWindow(window_state, profiles=ProfileStore(path))
    qtbot.addWidget(window)
    window.show()

    qtbot.waitUntil(window.banner.isVisible, timeout=WAIT_MS)

    assert window.banner.text.text().startswith("Cannot read the profiles:")
    assert str(path) in window.banner.text.text()
    window.close()


# About and icon ---------------------------------------------------------------


def test_about_shows_version(window, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "about", lambda _parent, title, text: shown.append((title, text)))

    window.show_about()

    assert shown[0][0] == "About ppdesk"
    assert f"ppdesk {ppdesk.__version__}" in shown[0][1]


def test_application_icon_sizes():
    from ppdesk.gui.app import app_icon

    icon = app_icon()
    assert not icon.isNull()
    assert 512 in [size.width() for size in icon.availableSizes()]


# Self-test --------------------------------------------------------------------


def test_self_test_from_source(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "LANG": "C.UTF-8",
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": str(REPO),
    }

    completed = subprocess.run(
        [sys.executable, "-m", "ppdesk", "--self-test"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=SELF_TEST_LIMIT_S,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "self-test: main window on the offscreen platform: ok" in completed.stdout
    assert "self-test: viewer (" in completed.stdout
    assert completed.stdout.rstrip().endswith("self-test passed")
    written = {path.relative_to(home).parts[0] for path in home.rglob("*") if path.is_file()}
    assert written <= {".local", ".config", ".cache"}
