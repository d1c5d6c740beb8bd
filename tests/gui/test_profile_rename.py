"""Renaming a profile in the connection dialog: one entry moves, and the window's memory follows it."""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

from ppdesk.gui.connection_dialog import ConnectionDialog
from ppdesk.gui.main_window import MainWindow
from ppdesk.gui.state import WindowState
from ppdesk.gui.workers import WorkerPool
from ppdesk.remote.local import LocalTransport
from ppdesk.remote.profiles import Profile, ProfileStore

WAIT_MS = 60_000


def stored(store: ProfileStore) -> List[Tuple[str, str, int]]:
    return [(profile.name, profile.user, profile.port) for profile in ProfileStore(store.path).load()]


def make_store(tmp_path: Path) -> ProfileStore:
    store = ProfileStore(tmp_path / "profiles.json")
    store.save(Profile(name="pod-a", host="127.0.0.1", port=2222, auth="agent"))
    store.save(Profile(name="pod-b", host="127.0.0.1", port=2300, user="ubuntu", auth="agent"))
    return store


def make_dialog(qtbot, tmp_path: Path, store: ProfileStore, select: str) -> ConnectionDialog:
    dialog = ConnectionDialog(store, WorkerPool(), lambda profile: LocalTransport.for_root(tmp_path), select=select,
                              ssh_config_path=tmp_path / "no-ssh-config")
    qtbot.addWidget(dialog)
    qtbot.waitSignal(dialog.profilesLoaded, timeout=WAIT_MS).wait()
    assert dialog.name_edit.text() == select
    return dialog


def listed(dialog: ConnectionDialog) -> List[str]:
    return [dialog.profile_list.item(row).text() for row in range(dialog.profile_list.count())]


def test_rename_removes_old_entry(qtbot, tmp_path):
    store = make_store(tmp_path)
    dialog = make_dialog(qtbot, tmp_path, store, "pod-a")
    questions: List[str] = []
    dialog.confirm = lambda _title, text: questions.append(text) or True

    dialog.name_edit.setText("trainer")
    dialog.port_spin.setValue(2201)
    with qtbot.waitSignal(dialog.profileRenamed, timeout=WAIT_MS) as renamed:
        assert dialog.save_profile() is not None
    qtbot.waitSignal(dialog.profilesLoaded, timeout=WAIT_MS).wait()

    assert renamed.args == ["pod-a", "trainer"]
    assert stored(store) == [("pod-b", "ubuntu", 2300), ("trainer", "root", 2201)]
    assert listed(dialog) == ["pod-b", "trainer"]
    assert dialog.profile_list.currentItem().text() == "trainer"
    assert questions == []


def test_second_save_after_rename_edits_it(qtbot, tmp_path):
    store = make_store(tmp_path)
    dialog = make_dialog(qtbot, tmp_path, store, "pod-a")
    dialog.name_edit.setText("trainer")
    with qtbot.waitSignal(dialog.profileSaved, timeout=WAIT_MS):
        dialog.save_profile()
    qtbot.waitSignal(dialog.profilesLoaded, timeout=WAIT_MS).wait()

    dialog.port_spin.setValue(2400)
    with qtbot.waitSignal(dialog.profileSaved, timeout=WAIT_MS):
        dialog.save_profile()

    assert stored(store) == [("pod-b", "ubuntu", 2300), ("trainer", "root", 2400)]


def test_rename_onto_taken_asks_first(qtbot, tmp_path):
    store = make_store(tmp_path)
    before = store.path.read_bytes()
    dialog = make_dialog(qtbot, tmp_path, store, "pod-a")
    questions: List[str] = []
    dialog.confirm = lambda _title, text: questions.append(text) or False
    dialog.name_edit.setText("pod-b")

    assert dialog.save_profile() is None

    assert questions == [
        "A profile named 'pod-b' (ubuntu@127.0.0.1:2300) exists already. "
        "Rename 'pod-a' to 'pod-b' and replace that profile?"
    ]
    assert dialog.form_error.text() == "Not renamed: a profile named 'pod-b' exists; choose another name."
    assert store.path.read_bytes() == before


def test_rename_onto_taken_replaces_after_yes(qtbot, tmp_path):
    store = make_store(tmp_path)
    dialog = make_dialog(qtbot, tmp_path, store, "pod-a")
    dialog.confirm = lambda _title, _text: True
    dialog.name_edit.setText("pod-b")

    with qtbot.waitSignal(dialog.profileRenamed, timeout=WAIT_MS) as renamed:
        assert dialog.save_profile() is not None

    assert renamed.args == ["pod-a", "pod-b"]
    assert stored(store) == [("pod-b", "root", 2222)]


def test_same_name_save_asks_nothing(qtbot, tmp_path):
    store = make_store(tmp_path)
    dialog = make_dialog(qtbot, tmp_path, store, "pod-b")
    questions: List[str] = []
    dialog.confirm = lambda _title, text: questions.append(text) or False
    renames: List[Tuple[str, str]] = []
    dialog.profileRenamed.connect(lambda old, new: renames.append((old, new)))
    dialog.port_spin.setValue(2301)

    with qtbot.waitSignal(dialog.profileSaved, timeout=WAIT_MS):
        dialog.save_profile()

    assert stored(store) == [("pod-a", "root", 2222), ("pod-b", "ubuntu", 2301)]
    assert questions == []
    assert renames == []


def test_window_memory_follows_rename(qtbot, tmp_path, window_state: WindowState):
    store = make_store(tmp_path)
    window_state.last_profile = "pod-a"
    window_state.set_selection("sofia", "sofia_002_lr5e-5", "profile:pod-a")
    window_state.set_selection("max", None, "profile:pod-b")
    window = MainWindow(window_state, profiles=store, demo_parent=tmp_path / "cache")
    qtbot.addWidget(window)
    qtbot.waitSignal(window.profilesLoaded, timeout=WAIT_MS).wait()
    assert window.connection_combo.currentText() == "pod-a  (root@127.0.0.1:2222)"

    window.open_connection_dialog()
    dialog = window.findChild(ConnectionDialog)
    qtbot.waitUntil(lambda: dialog.name_edit.text() == "pod-a", timeout=WAIT_MS)
    dialog.name_edit.setText("root@127.0.0.1 port 2222")
    with qtbot.waitSignal(dialog.profileRenamed, timeout=WAIT_MS):
        dialog.save_profile()
    with qtbot.waitSignal(window.profilesLoaded, timeout=WAIT_MS):
        dialog.reject()

    assert window_state.last_profile == "root@127.0.0.1 port 2222"
    assert window_state.selection_for("profile:root@127.0.0.1 port 2222") == ("sofia", "sofia_002_lr5e-5")
    assert window_state.selection_for("profile:pod-b") == ("max", "")
    texts = [window.connection_combo.itemText(index) for index in range(window.connection_combo.count())]
    assert texts == ["pod-b  (ubuntu@127.0.0.1:2300)", "root@127.0.0.1 port 2222"]
    assert window.connection_combo.currentText() == "root@127.0.0.1 port 2222"


def test_state_rename_workspace(window_state: WindowState):
    window_state.set_selection("max", None, "profile:new")
    window_state.set_selection("sofia", "sofia_001_lr1e-4", "profile:old")
    window_state.set_selection("demo.peft-lora", None, "local:/tmp/demo")

    window_state.rename_workspace("profile:old", "profile:new")

    assert window_state.selection_for("profile:new") == ("sofia", "sofia_001_lr1e-4")
    assert window_state.selection_for("local:/tmp/demo") == ("demo.peft-lora", "")
    # The old id has no entry left, so it falls back to the last selection of any workspace.
    assert window_state.selection_for("profile:old") == ("demo.peft-lora", "")
