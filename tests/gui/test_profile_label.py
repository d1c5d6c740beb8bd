"""Workspace combo text of saved profiles: the address only when the name does not show it."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from ppdesk.gui.main_window import MainWindow
from ppdesk.gui.state import WindowState
from ppdesk.gui.window_connection import name_shows_address, profile_label
from ppdesk.remote.profiles import Profile, ProfileStore, suggest_profile_name


@pytest.mark.parametrize(
    ("name", "user", "host", "port", "shown"),
    [
        ("root@127.0.0.1 port 2222", "root", "127.0.0.1", 2222, True),
        ("root@127.0.0.1 port 2222 (2)", "root", "127.0.0.1", 2222, True),
        ("ROOT@127.0.0.1 Port 2222", "root", "127.0.0.1", 2222, True),
        ("root@127.0.0.1", "root", "127.0.0.1", 22, True),
        ("root@127.0.0.1 (3)", "root", "127.0.0.1", 22, True),
        ("root@--1 port 2222", "root", "::1", 2222, True),
        ("gpu box root@127.0.0.1 port 2222", "root", "127.0.0.1", 2222, True),
        ("pod-a", "root", "127.0.0.1", 2222, False),
        ("root@127.0.0.1", "root", "127.0.0.1", 2222, False),
        ("root@127.0.0.1 port 2200", "root", "127.0.0.1", 2222, False),
        ("root@127.0.0.1 port 2222", "root", "127.0.0.1", 22, False),
        ("root@127.0.0.12 port 2222", "root", "127.0.0.1", 2222, False),
        ("root@127.0.0.1 port 2222", "ubuntu", "127.0.0.1", 2222, False),
        ("xroot@127.0.0.1", "root", "127.0.0.1", 22, False),
        ("127.0.0.1 port 2222", "root", "127.0.0.1", 2222, False),
    ],
)
def test_name_shows_address_table(name: str, user: str, host: str, port: int, shown: bool):
    assert name_shows_address(name, user, host, port) is shown


@pytest.mark.parametrize(("host", "port"), [("127.0.0.1", 22), ("127.0.0.1", 2222), ("::1", 2222), ("localhost", 22101)])
def test_suggested_names_show_address(host: str, port: int):
    name = suggest_profile_name("root", host, port, ["root@127.0.0.1", "root@127.0.0.1 port 2222"])

    assert name_shows_address(name, "root", host, port)


def test_label_adds_address_to_other_names():
    readable = Profile(name="root@127.0.0.1 port 2222", host="127.0.0.1", port=2222, auth="agent")
    plain = Profile(name="pod-a", host="127.0.0.1", port=2222, auth="agent")

    assert profile_label(readable) == "root@127.0.0.1 port 2222"
    assert profile_label(plain) == "pod-a  (root@127.0.0.1:2222)"


def combo_texts(window: MainWindow) -> List[str]:
    return [window.connection_combo.itemText(index) for index in range(window.connection_combo.count())]


def test_combo_shows_each_address_once(qtbot, window_state: WindowState, tmp_path: Path):
    store = ProfileStore(tmp_path / "profiles.json")
    store.save(Profile(name="root@127.0.0.1 port 2222", host="127.0.0.1", port=2222, auth="agent"))
    store.save(Profile(name="pod-a", host="127.0.0.1", port=2222, auth="agent"))
    store.save(Profile(name="root@127.0.0.1 port 2200", host="127.0.0.1", port=2222, auth="agent"))

    window = MainWindow(window_state, profiles=store, demo_parent=tmp_path / "cache")
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.profilesLoaded, timeout=10_000):
        pass

    assert combo_texts(window) == [
        "pod-a  (root@127.0.0.1:2222)",
        "root@127.0.0.1 port 2200  (root@127.0.0.1:2222)",
        "root@127.0.0.1 port 2222",
    ]
