"""The remembered family and config: kept across reconnects, per workspace and across restarts."""

from __future__ import annotations

import shutil
from pathlib import Path

from ppdesk.gui.main_window import MainWindow
from ppdesk.gui.state import MAX_REMEMBERED_WORKSPACES, WindowState, ini_settings
from ppdesk.remote.local import LocalTransport
from ppdesk.remote.profiles import ProfileStore

# Bounds a hang of a scan of the demo workspace; not a performance assertion.
WAIT_MS = 60_000


def open_folder(qtbot, window: MainWindow, root: Path) -> None:
    with qtbot.waitSignal(window.scanFinished, timeout=WAIT_MS):
        window.open_local_workspace(root)


def open_demo(qtbot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.scanFinished, timeout=WAIT_MS):
        window.open_demo_workspace()


def new_window(qtbot, window_state: WindowState, tmp_path: Path) -> MainWindow:
    window = MainWindow(window_state, profiles=ProfileStore(tmp_path / "profiles.json"), demo_parent=tmp_path / "cache")
    window.confirm = lambda _title, _text: True
    qtbot.addWidget(window)
    window.show()
    return window


def test_demo_reopened_twice_keeps_family(qtbot, window):
    open_demo(qtbot, window)
    assert window.selection.select("sofia", "sofia_002_lr5e-5")

    open_demo(qtbot, window)
    open_demo(qtbot, window)

    assert window.selection.current() == ("sofia", "sofia_002_lr5e-5")


def test_family_kept_after_disconnect(qtbot, window):
    open_demo(qtbot, window)
    assert window.selection.select("sofia")
    window.disconnect_workspace()
    assert window.selection.current() == (None, None)

    open_demo(qtbot, window)

    assert window.selection.current() == ("sofia", None)
    assert window.state.family == "sofia"


def test_family_remembered_per_workspace(qtbot, window, demo_root, tmp_path):
    other = tmp_path / "other-workspace"
    shutil.copytree(demo_root, other, symlinks=True)
    open_demo(qtbot, window)
    assert window.selection.select("sofia", "sofia_010_rank32")
    open_folder(qtbot, window, other)
    assert window.selection.select("max", "max_002_env")

    open_demo(qtbot, window)
    assert window.selection.current() == ("sofia", "sofia_010_rank32")
    open_folder(qtbot, window, other)
    assert window.selection.current() == ("max", "max_002_env")


def test_family_remembered_after_restart(qtbot, window, window_state, demo_root, tmp_path):
    other = tmp_path / "other-workspace"
    shutil.copytree(demo_root, other, symlinks=True)
    open_demo(qtbot, window)
    assert window.selection.select("sofia")
    open_folder(qtbot, window, other)
    assert window.selection.select("max", "max_001_base")
    window.close()
    window.pool.wait(WAIT_MS)

    again = new_window(qtbot, window_state, tmp_path)
    open_demo(qtbot, again)

    assert again.selection.current() == ("sofia", None)
    again.close()
    again.pool.wait(WAIT_MS)


def test_demo_transport_and_folder_share_selection(qtbot, window, demo_root, tmp_path):
    other = tmp_path / "other-workspace"
    shutil.copytree(demo_root, other, symlinks=True)
    # ppdesk --demo passes a LocalTransport; File > Open workspace folder makes a folder entry.
    with qtbot.waitSignal(window.scanFinished, timeout=WAIT_MS):
        window.add_transport(LocalTransport.for_root(demo_root), "Demo workspace")
    assert window.selection.select("sofia", "sofia_001_lr1e-4")
    open_folder(qtbot, window, other)
    assert window.selection.select("max")

    open_folder(qtbot, window, demo_root)

    assert window.selection.current() == ("sofia", "sofia_001_lr1e-4")


def test_unknown_workspace_gets_last_selection(tmp_path):
    state = WindowState(ini_settings(tmp_path / "state.ini"))

    state.set_selection("sofia", "sofia_001", "local:/a")
    state.set_selection("max", None, "local:/b")

    assert state.selection_for("local:/a") == ("sofia", "sofia_001")
    assert state.selection_for("local:/b") == ("max", "")
    assert state.selection_for("local:/never-opened") == ("max", "")
    assert state.selection_for(None) == ("max", "")


def test_remembered_workspaces_are_capped(tmp_path):
    state = WindowState(ini_settings(tmp_path / "state.ini"))
    newest = MAX_REMEMBERED_WORKSPACES + 4

    for number in range(newest + 1):
        state.set_selection(f"family{number}", None, f"local:/w{number}")

    assert state.selection_for(f"local:/w{newest}") == (f"family{newest}", "")
    assert state.selection_for("local:/w5") == ("family5", "")
    # w0 to w4 were used longest ago, so they get the last selection of any workspace.
    assert state.selection_for("local:/w4") == (f"family{newest}", "")
    assert state.selection_for("local:/w0") == (f"family{newest}", "")


def test_invalid_stored_selections_ignored(tmp_path):
    settings = ini_settings(tmp_path / "state.ini")
    settings.setValue("selection/family", "sofia")
    settings.setValue("selection/workspaces", "[not json")
    state = WindowState(settings)

    assert state.selection_for("local:/a") == ("sofia", "")
    state.set_selection("max", None, "local:/a")
    assert state.selection_for("local:/a") == ("max", "")

    settings.setValue("selection/workspaces", '[["local:/a", "max"], 7, ["local:/b", "sofia", ""]]')
    assert state.selection_for("local:/b") == ("sofia", "")
    assert state.selection_for("local:/a") == ("max", "")
