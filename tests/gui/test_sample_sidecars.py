"""Opening a grid cell's sample from sidecars with workspace-relative and with absolute sources."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from ppdesk.core.grids.validation import op_validation_grid
from ppdesk.core.layout import WorkspaceLayout
from ppdesk.core.protocol import Emitter
from ppdesk.gui.main_window import MainWindow
from ppdesk.gui.viewer import ImageViewerWindow
from ppdesk.gui.viewer.sidecar import GridCell, join_path
from ppdesk.remote.local import LocalTransport

CONFIG = "sofia_001_lr1e-4"
OUTPUT = f"SimpleTuner/output/{CONFIG}"
# Bounds a hang of a scan, a fetch or an image load; not a performance assertion.
WAIT_MS = 60_000


def build_grid(workspace: Path, dest: Path, older_format: bool = False) -> Path:
    """Build the config's validation grid in ``workspace`` and copy it into ``dest`` as a download would."""
    result = op_validation_grid(WorkspaceLayout.from_root(str(workspace)), {"config": CONFIG}, Emitter(io.StringIO()))
    grids = dest / CONFIG / "grids"
    grids.mkdir(parents=True)
    grid = Path(shutil.copy(result["grid"], grids))
    sidecar = Path(shutil.copy(result["sidecar"], grids))
    if older_format:
        document = json.loads(sidecar.read_text(encoding="utf-8"))
        output = workspace / document.pop("output")
        for cell in document["cells"]:
            if cell["source"]:
                cell["source"] = str(output / cell["source"])
        sidecar.write_text(json.dumps(document), encoding="utf-8")
    return grid


def show_grid(qtbot, window: MainWindow, grid: Path) -> ImageViewerWindow:
    viewer = window.image_viewer()
    with qtbot.waitSignal(viewer.image_loaded, timeout=WAIT_MS):
        viewer.open_images([grid])
        viewer.show()
    qtbot.waitExposed(viewer)
    assert viewer.overlay.sidecar is not None
    return viewer


def click_cell(viewer: ImageViewerWindow, cell: GridCell) -> None:
    centre = viewer.view.mapFromScene(QPointF(cell.x + cell.w / 2, cell.y + cell.h / 2))
    QTest.mouseClick(viewer.view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(centre.x(), centre.y()))


def connect(qtbot, window: MainWindow, root: Path) -> None:
    with qtbot.waitSignal(window.scanFinished, timeout=WAIT_MS):
        window.add_transport(LocalTransport.for_root(root), "workspace")


@pytest.fixture
def pod(demo_root: Path, tmp_path: Path) -> Path:
    """A copy of the demo workspace in another folder, as when a workspace moves to a new pod."""
    return Path(shutil.copytree(demo_root, tmp_path / "pod", symlinks=True))


def test_cell_sample_path_joins_root():
    cell = GridCell(0, 0, 1, 1, 100, "a", None, "", "validation_images/s.png", None, output="SimpleTuner/output/a")
    older = GridCell(0, 0, 1, 1, 100, "a", None, "", "/workspace/out/s.png", None)
    outside = GridCell(0, 0, 1, 1, 100, "a", None, "", "validation_images/s.png", None, output="/data/out/a")

    assert cell.sample_path("/pod") == "/pod/SimpleTuner/output/a/validation_images/s.png"
    assert cell.sample_path("C:\\pods\\ws") == "C:\\pods\\ws\\SimpleTuner\\output\\a\\validation_images\\s.png"
    assert older.sample_path("/pod") == "/workspace/out/s.png"
    assert older.sample_path(None) == "/workspace/out/s.png"
    assert outside.sample_path("/pod") == "/data/out/a/validation_images/s.png"
    assert join_path("/pod", "/abs/s.png") == "/abs/s.png"
    with pytest.raises(ValueError, match="connect to the workspace the grid came from"):
        cell.sample_path(None)


def test_new_sidecar_opens_moved_sample(qtbot, window: MainWindow, demo_root: Path, pod: Path, tmp_path: Path):
    grid = build_grid(demo_root, tmp_path / "out")
    connect(qtbot, window, pod)
    window.set_destination(str(tmp_path / "out"))
    viewer = show_grid(qtbot, window, grid)
    cell = viewer.overlay.sidecar.cells[1]
    expected = pod / OUTPUT / cell.source

    with qtbot.waitSignal(viewer.image_loaded, timeout=WAIT_MS) as blocker:
        click_cell(viewer, cell)

    assert cell.output == OUTPUT
    assert cell.source.startswith("validation_images/")
    assert blocker.args == [expected]
    assert viewer.current_path() == expected


def test_new_sidecar_fetches_moved_sample(qtbot, window: MainWindow, demo_root: Path, pod: Path, tmp_path: Path):
    grid = build_grid(demo_root, tmp_path / "out")
    connect(qtbot, window, pod)
    window.set_destination(str(tmp_path / "out"))
    viewer = show_grid(qtbot, window, grid)
    # Treat the local workspace as a pod: the sample must come through the transport.
    window.sample_fetcher().read_in_place = lambda: False
    cell = viewer.overlay.sidecar.cells[2]
    sample = pod / OUTPUT / cell.source
    # A different file at the old location shows which workspace the sample came from.
    (demo_root / OUTPUT / cell.source).write_bytes(b"not the pod's sample")

    with qtbot.waitSignal(viewer.image_loaded, timeout=WAIT_MS) as blocker:
        click_cell(viewer, cell)

    cached = tmp_path / "out" / CONFIG / "samples" / sample.name
    assert blocker.args == [cached]
    assert cached.read_bytes() == sample.read_bytes()
    assert viewer.current_path() == cached


def test_old_sidecar_opens_absolute_sample(qtbot, window: MainWindow, demo_root: Path, pod: Path, tmp_path: Path):
    grid = build_grid(demo_root, tmp_path / "out", older_format=True)
    connect(qtbot, window, pod)
    window.set_destination(str(tmp_path / "out"))
    viewer = show_grid(qtbot, window, grid)
    cell = viewer.overlay.sidecar.cells[0]

    with qtbot.waitSignal(viewer.image_loaded, timeout=WAIT_MS) as blocker:
        click_cell(viewer, cell)

    assert cell.output is None
    assert Path(cell.source).is_absolute()
    assert Path(cell.source).parent == demo_root / OUTPUT / "validation_images"
    assert blocker.args == [Path(cell.source)]


def test_new_sidecar_without_connection(qtbot, window: MainWindow, demo_root: Path, tmp_path: Path):
    grid = build_grid(demo_root, tmp_path / "out")
    viewer = show_grid(qtbot, window, grid)
    cell = viewer.overlay.sidecar.cells[0]

    with qtbot.waitSignal(window.sample_fetcher().failed, timeout=WAIT_MS):
        click_cell(viewer, cell)

    message = viewer.statusBar().currentMessage()
    assert message == (
        f"Cannot open the sample {cell.source}: "
        "connect to the workspace the grid came from, because the sample's path is relative to it"
    )
    assert viewer.paths() == [grid]
