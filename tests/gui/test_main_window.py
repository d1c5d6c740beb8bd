"""The main window on the demo workspace through LocalTransport."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import List

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QRect, Qt, QThreadPool, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from ppdesk.gui.main_window import MainWindow
from ppdesk.remote.local import LocalTransport
from ppdesk.tools import ORDER
from ppdesk.tools.base import Status

# Bounds a hang of a tool run on the demo workspace; not a performance assertion.
WAIT_MS = 120_000
BIG_FILE_BYTES = 300 * 1024 * 1024


def write_big_file(path: Path, size: int = BIG_FILE_BYTES) -> None:
    """Write ``size`` real bytes (no sparse holes), 1 MiB at a time."""
    block = bytes(range(256)) * 4096
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        for _ in range(size // len(block)):
            handle.write(block)


def run_and_wait(qtbot, window: MainWindow, keys: List[str]):
    with qtbot.waitSignal(window.runFinished, timeout=WAIT_MS) as blocker:
        worker = window.run_tools(keys)
        assert worker is not None, window.banner.text.text()
    return blocker.args[0]


def test_connect_fills_combos(connected):
    families = [connected.selection.family_combo.itemData(i) for i in range(connected.selection.family_combo.count())]
    assert families == ["demo.peft-lora", "max", "sofia"]
    assert connected.connection_state == "connected"
    assert "6 configs in 3 families" in connected.status_label.text()
    assert connected.pp_button.isEnabled()


def test_validation_grid_on_demo(qtbot, connected, tmp_path, opened_images):
    dest = tmp_path / "out"
    connected.set_destination(str(dest))
    assert connected.selection.select("sofia", "sofia_001_lr1e-4")

    results = run_and_wait(qtbot, connected, ["vg"])

    assert [(r.tool, r.config, r.status) for r in results] == [("vg", "sofia_001_lr1e-4", Status.OK)]
    grid = dest / "sofia_001_lr1e-4" / "grids" / "sofia_001_lr1e-4-validation-grid.jpg"
    assert grid.is_file()
    assert grid.read_bytes()[:3] == b"\xff\xd8\xff"
    model = connected.results.results_model
    assert model.rowCount() == 2
    assert model.is_header(0)
    assert model.index(0, 0).data().startswith("Run 1")
    assert model.index(1, 2).data() == "ok"
    assert opened_images == [[grid]]
    assert not connected.progress.isVisible()


def test_post_process_five_rows_per_config(qtbot, connected, tmp_path):
    connected.set_destination(str(tmp_path / "out"))
    assert connected.selection.select("max")

    results = run_and_wait(qtbot, connected, list(ORDER))

    expected = [(key, config) for config in ("max_001_base", "max_002_env") for key in ORDER]
    assert [(r.tool, r.config) for r in results] == expected
    model = connected.results.results_model
    assert model.rowCount() == 11
    assert model.is_header(0)
    assert [model.index(row, 1).data() for row in range(1, 11)] == [config for _key, config in expected]
    assert all(r.status is not Status.FAILED for r in results), [(r.tool, r.message) for r in results]
    assert not connected.progress.isVisible()
    assert connected.pp_button.isEnabled()


def test_failed_row_is_marked(qtbot, connected, tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    # A file where the config's folder should be fails this config's download only.
    (dest / "sofia_001_lr1e-4").write_text("a file where the config folder should be")
    connected.set_destination(str(dest))
    connected.selection.select("sofia", "sofia_001_lr1e-4")

    results = run_and_wait(qtbot, connected, ["dc"])

    assert results[0].status is Status.FAILED
    assert connected.banner.text.text() == "Download config: 1 tool failed (1 failed); the red row shows why."
    model = connected.results.results_model
    assert model.index(1, 2).data() == "failed"
    assert model.index(1, 2).data(Qt.ItemDataRole.DecorationRole) is not None
    assert model.index(1, 0).data(Qt.ItemDataRole.BackgroundRole) is not None
    assert "Traceback" not in model.index(1, 3).data()


# PySide6 6.12 marks the only QDragEnterEvent constructor it offers as deprecated.
DRAG_WARNING = "ignore:Function.*QDragEnterEvent:DeprecationWarning"


@pytest.mark.filterwarnings(DRAG_WARNING)
def test_dropped_folder_sets_destination(qtbot, window, tmp_path):
    folder = tmp_path / "dropped"
    folder.mkdir()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])

    enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)

    assert drop.isAccepted()
    assert window.destination == str(folder)
    assert window.state.destination == str(folder)


@pytest.mark.filterwarnings(DRAG_WARNING)
def test_dropped_file_is_ignored(qtbot, window, tmp_path):
    file = tmp_path / "file.txt"
    file.write_text("not a folder")
    before = window.destination
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(file))])
    enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)

    assert not enter.isAccepted()
    assert window.destination == before


def test_first_start_default_destination(window):
    # The window fixture starts with no remembered destination.
    assert window.destination == str(Path.home() / "ppdesk-out")


def test_cancel_download_keeps_part(qtbot, connected, demo_root, tmp_path):
    big = demo_root / "SimpleTuner" / "output" / "sofia_001_lr1e-4" / "big-sample-archive.bin"
    write_big_file(big)
    dest = tmp_path / "out"
    connected.set_destination(str(dest))
    connected.selection.select("sofia", "sofia_001_lr1e-4")

    def cancel_on_big_file(event) -> None:
        # The first report of a file may come before its first byte is written.
        if event.file == "big-sample-archive.bin" and event.file_done > 0:
            connected.cancel_run()

    connected.runProgress.connect(cancel_on_big_file)
    with qtbot.waitSignal(connected.runFinished, timeout=WAIT_MS) as blocker:
        assert connected.run_tools(["do"]) is not None

    results = blocker.args[0]
    assert [r.status for r in results] == [Status.CANCELLED]
    final = dest / "sofia_001_lr1e-4" / "output" / "big-sample-archive.bin"
    part = final.with_name(final.name + ".part")
    assert not final.exists()
    assert part.is_file()
    assert 0 < part.stat().st_size < BIG_FILE_BYTES
    assert not connected.progress.isVisible()
    assert connected.pool.active_threads() == 0 or connected.pool.wait(WAIT_MS)


def test_close_during_run_stops_threads(qtbot, connected, demo_root, tmp_path):
    big = demo_root / "SimpleTuner" / "output" / "max_001_base" / "big-sample-archive.bin"
    write_big_file(big)
    connected.set_destination(str(tmp_path / "out"))
    connected.selection.select("max", "max_001_base")
    asked: List[str] = []
    connected.confirm = lambda title, text: asked.append(title) or True

    with qtbot.waitSignal(connected.runProgress, timeout=WAIT_MS):
        assert connected.run_tools(["do"]) is not None
    assert connected.close()

    assert asked == ["Quit ppdesk"]
    assert connected.pool.active_threads() == 0
    assert QThreadPool.globalInstance().activeThreadCount() == 0
    assert connected.pool.active == [] or all(w.done.is_set() for w in connected.pool.active)


def test_close_can_be_refused(qtbot, connected, tmp_path):
    connected.set_destination(str(tmp_path / "out"))
    connected.selection.select("sofia")
    connected.confirm = lambda _title, _text: False

    with qtbot.waitSignal(connected.runFinished, timeout=WAIT_MS):
        connected.run_tools(list(ORDER))
        assert not connected.close()
        assert connected.isVisible()


def test_state_is_remembered(qtbot, connected, tmp_path, window_state):
    connected.set_destination(str(tmp_path / "out"))
    connected.selection.select("max", "max_002_env")
    connected.splitter.setSizes([300, 200])
    connected.close()

    again = MainWindow(window_state)
    qtbot.addWidget(again)
    assert again.destination == str(tmp_path / "out")
    assert (window_state.family, window_state.config) == ("max", "max_002_env")
    assert len(window_state.splitter_sizes("results_log")) == 2
    assert window_state.geometry is not None


def test_run_without_destination_explains(qtbot, connected):
    connected.destination_edit.clear()
    assert connected.run_tools(["vg"]) is None
    assert "destination" in connected.banner.text.text()


def test_output_browser_downloads_selection(qtbot, connected, tmp_path):
    dest = tmp_path / "out"
    connected.set_destination(str(dest))
    connected.open_output_browser()
    browser = connected._browser
    assert browser is not None
    browser.select_names(["max_002_env"])

    with qtbot.waitSignal(connected.runFinished, timeout=WAIT_MS) as blocker:
        browser.download_requested.emit(browser.selected_names())

    assert [(r.tool, r.config) for r in blocker.args[0]] == [("do", "max_002_env")]
    assert (dest / "max_002_env" / "output").is_dir()
    browser.close()


def test_image_viewer_shows_run_grids(qtbot, connected, tmp_path):
    connected.set_destination(str(tmp_path / "out"))
    connected.selection.select("max", "max_001_base")
    run_and_wait(qtbot, connected, ["vg"])

    connected.open_image_viewer()

    viewer = connected._viewer
    assert viewer is not None
    assert viewer.paths() == [tmp_path / "out" / "max_001_base" / "grids" / "max_001_base-validation-grid.jpg"]
    viewer.close()


def test_typed_destination_clears_banner(qtbot, connected, tmp_path):
    connected.destination_edit.clear()
    assert connected.run_tools(["dc"]) is None
    assert connected.banner.isVisible()

    QTest.keyClicks(connected.destination_edit, str(tmp_path / "out"))

    assert not connected.banner.isVisible()


def test_unrelated_change_keeps_banner(qtbot, connected):
    connected.destination_edit.clear()
    assert connected.run_tools(["dc"]) is None

    assert connected.selection.select("sofia")

    assert connected.banner.isVisible()
    assert "destination" in connected.banner.text.text()


def test_connect_clears_connect_first_banner(qtbot, window, demo_root, tmp_path):
    window.set_destination(str(tmp_path / "out"))
    assert window.run_tools(["dc"]) is None
    assert "Connect to a workspace first" in window.banner.text.text()

    with qtbot.waitSignal(window.scanFinished, timeout=WAIT_MS):
        window.add_transport(LocalTransport.for_root(demo_root), "Demo workspace")

    assert not window.banner.isVisible()


def other_workspace(tmp_path: Path, demo_template: Path) -> Path:
    root = tmp_path / "other-workspace"
    shutil.copytree(demo_template, root, symlinks=True)
    return root


def test_results_kept_across_rescan(qtbot, connected, tmp_path):
    connected.set_destination(str(tmp_path / "out"))
    connected.selection.select("sofia", "sofia_001_lr1e-4")
    run_and_wait(qtbot, connected, ["dc"])

    with qtbot.waitSignal(connected.scanFinished, timeout=WAIT_MS):
        connected.rescan()

    assert len(connected.results.results()) == 1


def test_results_cleared_for_other_workspace(qtbot, connected, tmp_path, demo_template):
    connected.set_destination(str(tmp_path / "out"))
    connected.selection.select("sofia", "sofia_001_lr1e-4")
    run_and_wait(qtbot, connected, ["dc"])
    assert len(connected.results.results()) == 1

    with qtbot.waitSignal(connected.scanFinished, timeout=WAIT_MS):
        connected.open_local_workspace(other_workspace(tmp_path, demo_template))

    assert connected.results.results_model.rowCount() == 0
    assert connected.results.results() == []


def test_results_kept_reconnecting_same_workspace(qtbot, connected, tmp_path, demo_root):
    connected.set_destination(str(tmp_path / "out"))
    connected.selection.select("sofia", "sofia_001_lr1e-4")
    run_and_wait(qtbot, connected, ["dc"])

    with qtbot.waitSignal(connected.scanFinished, timeout=WAIT_MS):
        connected.add_transport(LocalTransport.for_root(demo_root), "Demo workspace")

    assert len(connected.results.results()) == 1


def test_viewer_opens_beside_or_offset(qtbot, connected):
    connected.move(0, 0)
    viewer = connected.image_viewer()

    assert viewer.pos() != connected.pos()
    screen = connected.screen().availableGeometry()
    assert screen.contains(viewer.frameGeometry().topLeft())


def test_viewer_geometry_remembered(qtbot, connected, window_state):
    viewer = connected.image_viewer()
    viewer.show()
    qtbot.waitExposed(viewer)
    viewer.setGeometry(QRect(70, 60, 640, 480))
    saved = viewer.geometry()
    connected.close()

    again = MainWindow(window_state)
    qtbot.addWidget(again)
    reopened = again.image_viewer()
    qtbot.addWidget(reopened)

    assert reopened.geometry() == saved
    assert window_state.window_geometry("viewer") is not None


def test_quit_question_closes_when_run_ends(qtbot, connected, tmp_path):
    connected.set_destination(str(tmp_path / "out"))
    connected.selection.select("sofia")
    # The fixture answers questions itself; this test needs the real box.
    connected.confirm = connected._ask_yes_no
    questions = []

    def close_when_asked():
        box = connected._quit_question
        if box is None:
            QTimer.singleShot(10, close_when_asked)
            return
        questions.append(box.text())
        # Without the fix the box would wait for a click forever: press No
        # after the wait limit, which makes close() return False. The box is
        # the timer's context, so Qt drops the timer when the box is deleted
        # instead of firing it during a later test.
        QTimer.singleShot(WAIT_MS, box, lambda: box.done(QMessageBox.StandardButton.No) if box.isVisible() else None)

    with qtbot.waitSignal(connected.runProgress, timeout=WAIT_MS):
        assert connected.run_tools(list(ORDER)) is not None
    QTimer.singleShot(0, close_when_asked)
    # The box opens and stays open until the run ends on its own.
    closed = connected.close()

    assert questions and "A run is in progress" in questions[0]
    assert closed
    assert connected._run_worker is None
    assert connected.pool.active_threads() == 0


def test_second_run_appends_rows(qtbot, connected, tmp_path, opened_images):
    connected.set_destination(str(tmp_path / "out"))
    assert connected.selection.select("sofia", "sofia_001_lr1e-4")
    first = run_and_wait(qtbot, connected, ["vg"])
    assert connected.selection.select("max")

    second = run_and_wait(qtbot, connected, ["dc"])

    model = connected.results.results_model
    assert [(r.tool, r.config) for r in first] == [("vg", "sofia_001_lr1e-4")]
    assert [(r.tool, r.config) for r in second] == [("dc", "max_001_base"), ("dc", "max_002_env")]
    assert connected.results.results() == first + second
    assert model.rowCount() == 5
    assert [model.is_header(row) for row in range(5)] == [True, False, True, False, False]
    first_header = model.index(0, 0).data()
    second_header = model.index(2, 0).data()
    assert first_header.startswith("Run 1  \u00b7  ")
    assert first_header.endswith("Validation grid on sofia_001_lr1e-4  \u00b7  1 ok")
    assert second_header.startswith("Run 2  \u00b7  ")
    assert second_header.endswith("Download config on 2 configs of max  \u00b7  2 ok")
    assert connected.statusBar().currentMessage() == "Download config finished: 2 ok"


def double_click(table, row: int) -> None:
    """Press, release and double-click on ``row`` as a mouse does; a lone double-click event activates nothing."""
    center = table.visualRect(table.results_model.index(row, 0)).center()
    no_modifier = Qt.KeyboardModifier.NoModifier
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, no_modifier, center)
    QTest.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, no_modifier, center)


def test_double_click_opens_earlier_run_grid(qtbot, connected, tmp_path, opened_images):
    dest = tmp_path / "out"
    connected.set_destination(str(dest))
    assert connected.selection.select("sofia", "sofia_001_lr1e-4")
    run_and_wait(qtbot, connected, ["vg"])
    run_and_wait(qtbot, connected, ["dc"])
    opened_images.clear()
    table = connected.results
    activated = []
    table.resultActivated.connect(activated.append)

    double_click(table, 0)
    double_click(table, 1)

    grid = dest / "sofia_001_lr1e-4" / "grids" / "sofia_001_lr1e-4-validation-grid.jpg"
    assert [result.tool for result in activated] == ["vg"]
    assert opened_images == [[grid]]


def test_clear_results_empties_table(qtbot, connected, tmp_path):
    connected.set_destination(str(tmp_path / "out"))
    assert connected.selection.select("sofia", "sofia_001_lr1e-4")
    assert not connected.clear_results_button.isEnabled()
    run_and_wait(qtbot, connected, ["dc"])
    assert connected.clear_results_button.isEnabled()
    assert connected.clear_results_action.isEnabled()

    qtbot.mouseClick(connected.clear_results_button, Qt.MouseButton.LeftButton)

    assert connected.results.results_model.rowCount() == 0
    assert connected.results.results() == []
    assert not connected.clear_results_button.isEnabled()
    assert not connected.clear_results_action.isEnabled()


def test_clear_results_disabled_while_running(qtbot, connected, tmp_path):
    connected.set_destination(str(tmp_path / "out"))
    assert connected.selection.select("sofia", "sofia_001_lr1e-4")
    run_and_wait(qtbot, connected, ["dc"])

    with qtbot.waitSignal(connected.runFinished, timeout=WAIT_MS):
        assert connected.run_tools(["dc"]) is not None
        assert not connected.clear_results_button.isEnabled()
        connected.clear_results()
        assert len(connected.results.results()) == 1

    assert len(connected.results.results()) == 2
    assert connected.clear_results_button.isEnabled()
