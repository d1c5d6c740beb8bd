"""Image viewer: zoom, background loading, paging, grid cells, drops and file actions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from PySide6.QtCore import QEvent, QMimeData, QObject, QPoint, QPointF, QRectF, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent, QGuiApplication, QHelpEvent, QImage, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolTip

from ppdesk.gui.viewer import ImageLoader, ImageView, ImageViewerWindow, load_sidecar
from ppdesk.gui.viewer.loader import image_pool

STEPS = [100, 200, 300]
PROMPTS = ["portrait", "street_scene", "castle", "forest"]
CELL_W, CELL_H, GAP, LEFT, TOP = 96, 80, 8, 120, 40
LOAD_TIMEOUT_MS = 60_000
REPO = Path(__file__).resolve().parents[2]


def cell_box(row: int, column: int) -> tuple[int, int, int, int]:
    return LEFT + column * (CELL_W + GAP), TOP + row * (CELL_H + GAP), CELL_W, CELL_H


def make_grid(folder: Path, with_sources: bool = True) -> Path:
    """Write grid.jpg, its grid.json sidecar and one sample PNG per cell into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    width = LEFT + len(PROMPTS) * (CELL_W + GAP)
    height = TOP + len(STEPS) * (CELL_H + GAP)
    grid = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(grid)
    cells = []
    for row, step in enumerate(STEPS):
        for column, shortname in enumerate(PROMPTS):
            x, y, w, h = cell_box(row, column)
            colour = (40 + 60 * row, 30 + 50 * column, 120)
            draw.rectangle((x, y, x + w - 1, y + h - 1), fill=colour)
            source = folder / "samples" / f"step_{step}_{shortname}_0_64x64.png"
            if with_sources:
                source.parent.mkdir(exist_ok=True)
                Image.new("RGB", (64, 64), colour).save(source)
            cells.append(
                {
                    "x": x, "y": y, "w": w, "h": h, "step": step, "shortname": shortname, "index": 0,
                    "prompt": f"a photo of {shortname.replace('_', ' ')} at step {step}",
                    "source": str(source), "error": "sample is truncated" if (row, column) == (2, 3) else None,
                }
            )
    path = folder / "grid.jpg"
    grid.save(path, quality=90)
    sidecar = {"config": "sofia_001", "width": width, "height": height, "rows": STEPS, "columns": PROMPTS, "cells": cells}
    (folder / "grid.json").write_text(json.dumps(sidecar), encoding="utf-8")
    return path


def make_image(path: Path, size: tuple[int, int], colour: str = "steelblue") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def view(qtbot):
    widget = ImageView()
    qtbot.addWidget(widget)
    widget.resize(800, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def window(qtbot):
    widget = ImageViewerWindow()
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    widget.activateWindow()
    return widget


def open_and_wait(qtbot, window: ImageViewerWindow, paths: list[Path], index: int = 0) -> None:
    with qtbot.waitSignal(window.image_loaded, timeout=LOAD_TIMEOUT_MS):
        window.open_images(paths, index)


def view_point(view: ImageView, x: float, y: float) -> QPoint:
    return view.mapFromScene(QPointF(x, y))


# Zoom -------------------------------------------------------------------


def test_fit_wide_image_scale(view):
    view.set_image(QImage(4000, 1000, QImage.Format.Format_RGB32))

    assert view.transform().m11() == pytest.approx(0.2, abs=0.002)
    assert view.zoom() == pytest.approx(0.2 * view.devicePixelRatioF(), abs=0.002)
    assert view.is_fit()


def test_zoom_keys_change_scale(qtbot, view):
    view.set_image(QImage(4000, 1000, QImage.Format.Format_RGB32))
    fit = view.transform().m11()

    QTest.keyClick(view, Qt.Key.Key_Plus)
    assert view.transform().m11() == pytest.approx(fit * 1.25)
    assert not view.is_fit()

    QTest.keyClick(view, Qt.Key.Key_Minus)
    assert view.transform().m11() == pytest.approx(fit)

    QTest.keyClick(view, Qt.Key.Key_0)
    assert view.zoom() == pytest.approx(1.0)
    assert view.transform().m11() == pytest.approx(1.0 / view.devicePixelRatioF())

    QTest.keyClick(view, Qt.Key.Key_F)
    assert view.transform().m11() == pytest.approx(fit)
    assert view.is_fit()


def test_fit_never_enlarges_small_image(view):
    view.set_image(QImage(200, 100, QImage.Format.Format_RGB32))

    assert view.transform().m11() == pytest.approx(1.0)


def test_wheel_zoom_keeps_point_under_cursor(view):
    view.set_image(QImage(4000, 3000, QImage.Format.Format_RGB32))
    view.zoom_actual()
    cursor = QPointF(200, 150)
    before = view.mapToScene(cursor.toPoint())

    wheel = QWheelEvent(
        cursor, QPointF(view.viewport().mapToGlobal(cursor.toPoint())), QPoint(0, 0), QPoint(0, 120),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )
    QApplication.sendEvent(view.viewport(), wheel)

    assert view.zoom() == pytest.approx(1.25)
    after = view.mapToScene(cursor.toPoint())
    assert after.x() == pytest.approx(before.x(), abs=2)
    assert after.y() == pytest.approx(before.y(), abs=2)


def test_resize_refits_in_fit_mode(qtbot, view):
    view.set_image(QImage(4000, 1000, QImage.Format.Format_RGB32))
    view.resize(400, 600)

    qtbot.waitUntil(lambda: view.transform().m11() == pytest.approx(0.1, abs=0.002))


HIGH_DPI_PROBE = """
import sys
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from ppdesk.gui.viewer import ImageView

app = QApplication(sys.argv)
checker = QImage(sys.argv[1])
view = ImageView()
view.resize(400, 300)
view.show()
view.set_image(checker)
view.zoom_actual()
shot = view.viewport().grab().toImage()
row = [shot.pixelColor(x, shot.height() // 2).lightness() for x in range(shot.width())]
edges = sum(1 for left, right in zip(row, row[1:]) if abs(left - right) > 200)
print(view.devicePixelRatioF(), view.transform().m11(), shot.width(), edges)
"""


def test_actual_size_is_one_device_pixel_at_dpr_2(tmp_path):
    # NOTE: the checkerboard is drawn with Pillow because QImage.setPixelColor
    # in PySide6 6.12.0 drops a reference to None per call and aborts the
    # interpreter after a few thousand pixels.
    checker = Image.new("L", (200, 100))
    checker.putdata([255 * ((x + y) % 2) for y in range(100) for x in range(200)])
    checker.save(tmp_path / "checker.png")
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2"}
    completed = subprocess.run(
        [sys.executable, "-c", HIGH_DPI_PROBE, str(tmp_path / "checker.png")],
        capture_output=True, text=True, env=environment, cwd=REPO, timeout=120,
    )

    assert completed.returncode == 0, completed.stderr
    ratio, scale, shot_width, edges = completed.stdout.split()
    assert float(ratio) == 2.0
    assert float(scale) == pytest.approx(0.5)
    assert int(shot_width) == 800
    # A 1-pixel checkerboard shown 1:1 on device pixels alternates on every
    # one of its 200 columns; any resampling would blur or double them.
    assert int(edges) == 200


# Loading ------------------------------------------------------------------


def test_tall_grid_loads_off_gui_thread(qtbot, window, tmp_path):
    tall = tmp_path / "tall.jpg"
    picture = Image.new("RGB", (1200, 20000), "white")
    ImageDraw.Draw(picture).rectangle((100, 19000, 1100, 19900), fill="red")
    picture.save(tall, quality=85)
    ticks = []
    timer = QTimer()
    timer.setInterval(1)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()

    with qtbot.waitSignal(window.image_loaded, timeout=LOAD_TIMEOUT_MS) as blocker:
        window.open_images([tall])
        # The load is queued on the pool, so open_images returns before the image exists.
        assert window.current_image().isNull()
    timer.stop()

    assert blocker.args == [tall]
    assert len(ticks) > 0
    assert (window.current_image().width(), window.current_image().height()) == (1200, 20000)
    assert window.view.image_size() == (1200, 20000)
    assert window.current_image().pixelColor(600, 19500).red() > 200
    assert window.current_image().pixelColor(600, 19500).green() < 60


def test_stale_load_is_dropped(qtbot, tmp_path):
    big = make_image(tmp_path / "big.png", (3000, 3000), "red")
    small = make_image(tmp_path / "small.png", (40, 30), "blue")
    loader = ImageLoader()
    results = []
    loader.loaded.connect(lambda result: results.append(result.path))

    with qtbot.waitSignal(loader.loaded, timeout=LOAD_TIMEOUT_MS):
        loader.load(big)
        loader.load(small)
    image_pool().waitForDone()
    qtbot.waitUntil(lambda: not loader._pending)

    assert results == [small]


def test_unreadable_file_reports_failure(qtbot, window, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")

    with qtbot.waitSignal(window.load_failed, timeout=LOAD_TIMEOUT_MS) as blocker:
        window.open_images([broken])

    assert blocker.args[0] == broken
    assert "broken.png" in blocker.args[1]
    assert not window.view.has_image()


# Paging -------------------------------------------------------------------


def test_next_and_previous(qtbot, window, tmp_path):
    paths = [make_image(tmp_path / f"{name}.png", (50 + 10 * i, 40)) for i, name in enumerate("abc")]
    open_and_wait(qtbot, window, paths)
    assert window.view.image_size() == (50, 40)

    with qtbot.waitSignal(window.image_loaded, timeout=LOAD_TIMEOUT_MS):
        window.next_image()
    assert window.current_path() == paths[1]
    assert window.view.image_size() == (60, 40)

    with qtbot.waitSignal(window.image_loaded, timeout=LOAD_TIMEOUT_MS):
        QTest.keyClick(window.view, Qt.Key.Key_BracketRight)
    assert window.current_path() == paths[2]
    assert not window.next_action.isEnabled()

    window.next_image()
    assert window.current_index() == 2

    with qtbot.waitSignal(window.image_loaded, timeout=LOAD_TIMEOUT_MS):
        QTest.keyClick(window.view, Qt.Key.Key_BracketLeft)
    assert window.current_path() == paths[1]

    with qtbot.waitSignal(window.image_loaded, timeout=LOAD_TIMEOUT_MS):
        window.previous_image()
    assert window.current_index() == 0
    assert not window.previous_action.isEnabled()


# Grid cells -----------------------------------------------------------------


def test_sidecar_cells_get_rows_and_columns(tmp_path):
    sidecar = load_sidecar(make_grid(tmp_path))

    assert sidecar is not None
    assert (sidecar.row_count, sidecar.column_count) == (3, 4)
    cell = sidecar.cell_at_position(1, 2)
    assert (cell.step, cell.shortname) == (200, "castle")
    assert sidecar.cell_at(*cell_box(1, 2)[:2]) == cell
    assert sidecar.cell_at(LEFT - 1, TOP) is None


def test_sidecar_neighbour_skips_missing_cell(tmp_path):
    grid = make_grid(tmp_path)
    data = json.loads(grid.with_suffix(".json").read_text())
    data["cells"] = [c for c in data["cells"] if not (c["step"] == 100 and c["shortname"] == "street_scene")]
    grid.with_suffix(".json").write_text(json.dumps(data))
    sidecar = load_sidecar(grid)

    start = sidecar.cell_at_position(0, 0)
    assert sidecar.neighbour(start, 0, 1).shortname == "castle"
    assert sidecar.neighbour(start, 0, -1) == start
    assert sidecar.neighbour(start, -1, 0) == start


def test_hover_text_inside_cell(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, [make_grid(tmp_path)])
    x, y, w, h = cell_box(1, 2)

    text = window.overlay.hover_text_at(QPointF(x + w / 2, y + h / 2))

    assert text is not None
    assert text.splitlines()[0] == "step 200 · castle #0"
    assert "a photo of castle at step 200" in text
    assert window.overlay.hover_text_at(QPointF(5, 5)) is None


def test_hover_text_shows_error(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, [make_grid(tmp_path)])
    x, y, w, h = cell_box(2, 3)

    text = window.overlay.hover_text_at(QPointF(x + 1, y + 1))

    assert text.splitlines()[-1] == "error: sample is truncated"


def test_tooltip_event_shows_cell_prompt(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, [make_grid(tmp_path)])
    x, y, w, h = cell_box(0, 1)
    position = view_point(window.view, x + w / 2, y + h / 2)
    event = QHelpEvent(QEvent.Type.ToolTip, position, window.view.viewport().mapToGlobal(position))

    QApplication.sendEvent(window.view.viewport(), event)

    qtbot.waitUntil(QToolTip.isVisible)
    assert "a photo of street scene at step 100" in QToolTip.text()
    assert "<b>step&nbsp;100&nbsp;·&nbsp;street_scene&nbsp;#0</b>" in QToolTip.text()
    QToolTip.hideText()


def test_arrow_keys_move_highlight(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, [make_grid(tmp_path)])
    sidecar = window.overlay.sidecar
    window.overlay.highlight(sidecar.cell_at_position(0, 0))

    QTest.keyClick(window.view, Qt.Key.Key_Right)
    assert (window.overlay.highlighted.row, window.overlay.highlighted.column) == (0, 1)

    QTest.keyClick(window.view, Qt.Key.Key_Down)
    cell = window.overlay.highlighted
    assert (cell.row, cell.column) == (1, 1)
    assert (cell.step, cell.shortname) == (200, "street_scene")
    assert window.view.highlight_rect() == QRectF(*cell_box(1, 1))

    QTest.keyClick(window.view, Qt.Key.Key_Left)
    QTest.keyClick(window.view, Qt.Key.Key_Left)
    assert (window.overlay.highlighted.row, window.overlay.highlighted.column) == (1, 0)

    QTest.keyClick(window.view, Qt.Key.Key_Escape)
    assert window.overlay.highlighted is None
    assert window.view.highlight_rect() is None


def test_arrow_scrolls_highlight_into_view(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, [make_grid(tmp_path)])
    window.view.set_zoom(8.0)
    window.view.set_relative_center(0.0, 0.0)
    window.overlay.highlight(window.overlay.sidecar.cell_at_position(0, 0))

    QTest.keyClick(window.view, Qt.Key.Key_Down)
    QTest.keyClick(window.view, Qt.Key.Key_Down)

    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.intersects(QRectF(*cell_box(2, 0)))


def test_click_cell_calls_opener(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, [make_grid(tmp_path)])
    opened = []
    window.sample_opener = opened.append
    x, y, w, h = cell_box(2, 1)

    with qtbot.waitSignal(window.cell_activated) as blocker:
        QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=view_point(window.view, x + w / 2, y + h / 2))

    assert [cell.source for cell in opened] == [str(tmp_path / "samples" / "step_300_street_scene_0_64x64.png")]
    assert blocker.args[0] is opened[0]
    assert window.overlay.highlighted == opened[0]


def test_click_outside_cells_activates_nothing(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, [make_grid(tmp_path)])
    opened = []
    window.sample_opener = opened.append

    QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=view_point(window.view, 10, 10))

    assert opened == []


def test_click_without_opener_shows_local_sample(qtbot, window, tmp_path):
    grid = make_grid(tmp_path)
    open_and_wait(qtbot, window, [grid])
    x, y, w, h = cell_box(0, 3)

    with qtbot.waitSignal(window.image_loaded, timeout=LOAD_TIMEOUT_MS) as blocker:
        QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=view_point(window.view, x + 5, y + 5))

    sample = tmp_path / "samples" / "step_100_forest_0_64x64.png"
    assert blocker.args == [sample]
    assert window.paths() == [grid, sample]
    assert window.view.image_size() == (64, 64)
    assert window.overlay.sidecar is None


def test_sample_check_off_gui_thread(qtbot, window, tmp_path, monkeypatch):
    grid = make_grid(tmp_path)
    open_and_wait(qtbot, window, [grid])
    sample = tmp_path / "samples" / "step_100_forest_0_64x64.png"
    checked_on: list[int] = []
    real_is_file = Path.is_file

    def recording_is_file(path: Path) -> bool:
        if path == sample:
            checked_on.append(threading.get_ident())
        return real_is_file(path)

    monkeypatch.setattr(Path, "is_file", recording_is_file)
    x, y, w, h = cell_box(0, 3)

    with qtbot.waitSignal(window.image_loaded, timeout=LOAD_TIMEOUT_MS):
        QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=view_point(window.view, x + 5, y + 5))

    assert len(checked_on) == 1
    assert checked_on[0] != threading.get_ident()


def test_missing_local_sample_message(qtbot, window, tmp_path):
    grid = make_grid(tmp_path)
    open_and_wait(qtbot, window, [grid])
    missing = tmp_path / "samples" / "step_100_forest_0_64x64.png"
    missing.unlink()
    x, y, w, h = cell_box(0, 3)

    QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=view_point(window.view, x + 5, y + 5))
    qtbot.waitUntil(lambda: "is not on this machine" in window.statusBar().currentMessage(), timeout=LOAD_TIMEOUT_MS)

    assert str(missing) in window.statusBar().currentMessage()
    assert window.paths() == [grid]


def test_return_activates_highlighted_cell(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, [make_grid(tmp_path)])
    opened = []
    window.sample_opener = opened.append
    window.overlay.highlight(window.overlay.sidecar.cell_at_position(1, 3))

    QTest.keyClick(window.view, Qt.Key.Key_Return)

    assert [(cell.step, cell.shortname) for cell in opened] == [(200, "forest")]


def test_invalid_sidecar_keeps_image(qtbot, window, tmp_path):
    grid = make_grid(tmp_path)
    grid.with_suffix(".json").write_text("{not json", encoding="utf-8")

    open_and_wait(qtbot, window, [grid])

    assert window.view.has_image()
    assert window.overlay.sidecar is None
    assert "not valid JSON" in window.statusBar().currentMessage()


def test_sidecar_scaled_to_reduced_grid(qtbot, window, tmp_path):
    grid = make_grid(tmp_path)
    with Image.open(grid) as full:
        half = full.resize((full.width // 2, full.height // 2))
    half.save(grid)
    open_and_wait(qtbot, window, [grid])
    x, y, w, h = cell_box(1, 1)

    text = window.overlay.hover_text_at(QPointF((x + w / 2) / 2, (y + h / 2) / 2))

    assert text.startswith("step 200 · street_scene")


# Drops and file actions ----------------------------------------------------


def drop_event(event_type, paths: list[Path]):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    rest = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    # QDragEnterEvent takes an integer QPoint and QDropEvent a QPointF.
    if event_type == "enter":
        event = QDragEnterEvent(QPoint(10, 10), *rest)
    else:
        event = QDropEvent(QPointF(10, 10), *rest)
    return event, mime


def test_dropped_image_opens(qtbot, window, tmp_path):
    dropped = make_image(tmp_path / "dropped.png", (123, 45))
    enter, _enter_mime = drop_event("enter", [dropped])
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()

    drop, _drop_mime = drop_event("drop", [dropped])
    with qtbot.waitSignal(window.image_loaded, timeout=LOAD_TIMEOUT_MS) as blocker:
        QApplication.sendEvent(window, drop)

    assert blocker.args == [dropped]
    assert window.view.image_size() == (123, 45)


def test_drag_of_text_file_rejected(window, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    enter, _mime = drop_event("enter", [notes])

    QApplication.sendEvent(window, enter)

    assert not enter.isAccepted()


def test_save_as_copies_bytes(qtbot, window, tmp_path):
    grid = make_grid(tmp_path / "in")
    open_and_wait(qtbot, window, [grid])
    dest = tmp_path / "out" / "copy.jpg"
    dest.parent.mkdir()

    with qtbot.waitSignal(window.saved, timeout=LOAD_TIMEOUT_MS) as blocker:
        window.save_as(dest)

    assert blocker.args == [dest]
    assert dest.read_bytes() == grid.read_bytes()
    assert not dest.with_name("copy.jpg.part").exists()


def test_save_as_png_converts(qtbot, window, tmp_path):
    grid = make_grid(tmp_path / "in")
    open_and_wait(qtbot, window, [grid])
    dest = tmp_path / "copy.png"

    with qtbot.waitSignal(window.saved, timeout=LOAD_TIMEOUT_MS):
        window.save_as(dest)

    with Image.open(dest) as saved:
        assert saved.format == "PNG"
        assert saved.size == window.view.image_size()


def test_copy_to_clipboard(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, [make_image(tmp_path / "clip.png", (77, 33))])

    window.copy_to_clipboard()

    copied = QGuiApplication.clipboard().image()
    assert (copied.width(), copied.height()) == (77, 33)


class _UrlRecorder(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def record(self, url: QUrl) -> None:
        self.urls.append(url)


def test_open_containing_folder(qtbot, window, tmp_path):
    image = make_image(tmp_path / "sub" / "pic.png", (20, 20))
    open_and_wait(qtbot, window, [image])
    recorder = _UrlRecorder()
    QDesktopServices.setUrlHandler("file", recorder, "record")
    try:
        window.open_containing_folder()
    finally:
        QDesktopServices.unsetUrlHandler("file")

    assert [Path(url.toLocalFile()) for url in recorder.urls] == [tmp_path / "sub"]


def test_zoom_label_follows_zoom(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, [make_image(tmp_path / "pic.png", (5000, 4000))])

    window.view.zoom_actual()

    assert window._zoom_label.text() == "Zoom 100 %"


# The team's grid builder --------------------------------------------------

BUILDER_PHOTOS = {"astronaut_portrait": "astronaut.png", "cat": "chelsea.png", "tall_rocket": "rocket.jpg"}


def build_real_grid(fixtures_dir: Path, root: Path) -> Path:
    """Run the core validation grid builder over samples made from fixture photos.

    The photos have different aspect ratios, so the builder centres images of
    different heights in one row. Step 200 lacks the cat sample.
    """
    import io

    from ppdesk.core.grids.validation import build_validation_grid
    from ppdesk.core.protocol import Emitter

    samples = root / "output" / "validation_images"
    samples.mkdir(parents=True)
    for step in (100, 200, 300):
        for shortname, photo in BUILDER_PHOTOS.items():
            if (step, shortname) == (200, "cat"):
                continue
            with Image.open(fixtures_dir / "images" / "photos" / photo) as source:
                picture = source.convert("RGB")
            picture.save(samples / f"step_{step}_{shortname}_0_{picture.width}x{picture.height}.png")
    grid = root / "run-validation-grid.jpg"
    build_validation_grid(
        output_dir=str(root / "output"),
        grid_path=str(grid),
        sidecar_path=str(grid.with_suffix(".json")),
        config_name="sofia_001",
        emit=Emitter(io.StringIO()),
        prompts={name: f"prompt for {name}" for name in BUILDER_PHOTOS},
    )
    return grid


def test_real_grid_cells_navigate(qtbot, window, fixtures_dir, tmp_path):
    open_and_wait(qtbot, window, [build_real_grid(fixtures_dir, tmp_path)])
    sidecar = window.overlay.sidecar

    assert (sidecar.row_count, sidecar.column_count) == (3, 3)
    steps_by_row = {cell.row: cell.step for cell in sidecar.cells}
    assert steps_by_row == {0: 300, 1: 200, 2: 100}
    first = sidecar.cell_at_position(0, 0)
    window.overlay.highlight(first)

    QTest.keyClick(window.view, Qt.Key.Key_Right)
    QTest.keyClick(window.view, Qt.Key.Key_Right)
    QTest.keyClick(window.view, Qt.Key.Key_Down)

    cell = window.overlay.highlighted
    assert (cell.row, cell.column) == (1, 2)
    assert cell.step == 200
    assert cell.source is not None


def test_real_grid_hover_and_missing_cell(qtbot, window, fixtures_dir, tmp_path):
    open_and_wait(qtbot, window, [build_real_grid(fixtures_dir, tmp_path)])
    sidecar = window.overlay.sidecar
    missing = [cell for cell in sidecar.cells if cell.source is None]
    drawn = next(cell for cell in sidecar.cells if cell.shortname == "tall_rocket" and cell.step == 300)
    opened = []
    window.sample_opener = opened.append

    text = window.overlay.hover_text_at(QPointF(drawn.x + drawn.w / 2, drawn.y + drawn.h / 2))
    QTest.mouseClick(
        window.view.viewport(), Qt.MouseButton.LeftButton,
        pos=view_point(window.view, missing[0].x + 2, missing[0].y + 2),
    )

    assert text.splitlines() == ["step 300 · tall_rocket #0", "prompt for tall_rocket"]
    assert [(cell.step, cell.shortname) for cell in missing] == [(200, "cat")]
    assert missing[0].error == "missing sample"
    assert opened == []
    assert window.overlay.highlighted == missing[0]
