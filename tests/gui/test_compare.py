"""Compare window: choosers, labels and linked zoom and panning."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from ppdesk.gui.compare import CompareWindow

LOAD_TIMEOUT_MS = 60_000


def make_image(path: Path, size: tuple[int, int], colour: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def images(tmp_path) -> list[Path]:
    return [
        make_image(tmp_path / "a" / "step_100.png", (2000, 1500), "red"),
        make_image(tmp_path / "b" / "step_200.png", (2000, 1500), "green"),
        make_image(tmp_path / "c" / "step_200.png", (1000, 750), "blue"),
    ]


@pytest.fixture
def window(qtbot, images):
    widget = CompareWindow()
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    with qtbot.waitSignals([widget.left.image_loaded, widget.right.image_loaded], timeout=LOAD_TIMEOUT_MS):
        widget.set_images(images, 0, 1)
    return widget


def test_panes_show_chosen_images(window, images):
    assert window.left.current_path() == images[0]
    assert window.right.current_path() == images[1]
    assert window.left.label.text() == f"2000 × 1500 px — {images[0].parent}"
    assert window.left.view.image_size() == (2000, 1500)
    assert window.right.chooser.count() == 3


def test_chooser_names_duplicates_with_folder(window):
    labels = [window.left.chooser.itemText(i) for i in range(3)]

    assert labels == ["step_100.png", "b/step_200.png", "c/step_200.png"]


def test_zoom_left_zooms_right(window):
    window.left.view.zoom_in()

    assert window.right.view.transform().m11() == pytest.approx(window.left.view.transform().m11())
    assert window.right.view.zoom() == pytest.approx(window.left.view.zoom())


def test_zoom_key_right_zooms_left(window):
    QTest.keyClick(window.right.view, Qt.Key.Key_0)

    assert window.left.view.zoom() == pytest.approx(1.0)


def test_pan_left_pans_right(window):
    window.left.view.zoom_actual()
    window.left.view.horizontalScrollBar().setValue(window.left.view.horizontalScrollBar().maximum())

    left_x, left_y = window.left.view.relative_center()
    right_x, right_y = window.right.view.relative_center()
    assert left_x > 0.6
    assert right_x == pytest.approx(left_x, abs=0.01)
    assert right_y == pytest.approx(left_y, abs=0.01)


def test_unlinked_views_move_alone(window):
    window.set_linked(False)
    before = window.right.view.zoom()

    window.left.view.zoom_in()
    window.left.view.zoom_in()

    assert window.right.view.zoom() == pytest.approx(before)


def test_relinking_aligns_views(window):
    window.set_linked(False)
    window.left.view.zoom_actual()

    window.set_linked(True)

    assert window.right.view.zoom() == pytest.approx(1.0)


def test_new_choice_adopts_other_zoom(qtbot, window, images):
    window.left.view.zoom_actual()

    with qtbot.waitSignal(window.right.image_loaded, timeout=LOAD_TIMEOUT_MS):
        window.right.chooser.setCurrentIndex(2)

    assert window.right.current_path() == images[2]
    assert window.right.view.image_size() == (1000, 750)
    assert window.right.view.zoom() == pytest.approx(1.0)


def test_compare_close_action_has_shortcuts(qtbot):
    from PySide6.QtGui import QAction, QKeySequence

    from ppdesk.gui.compare import CompareWindow

    window = CompareWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    close_action = next(action for action in window.findChildren(QAction) if action.text() == "&Close")
    shortcuts = [shortcut.toString() for shortcut in close_action.shortcuts()]

    assert QKeySequence(QKeySequence.StandardKey.Close).toString() in shortcuts
    assert "Esc" in shortcuts
    close_action.trigger()
    assert not window.isVisible()
