"""The connection dialog's key file check and the profile names it makes from a pasted command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

import pytest

from ppdesk.gui.connection_dialog import ConnectionDialog
from ppdesk.gui.workers import WorkerPool
from ppdesk.remote.hostkeys import HostKeyStore
from ppdesk.remote.local import LocalTransport
from ppdesk.remote.profiles import Profile, ProfileStore
from ppdesk.remote.ssh import SshTransport
from ppdesk.remote.ssh_auth import SshPrompts

from helpers.key_files import BAD_KINDS, expected_message, run_without_override, write_bad_key_files
from helpers.sshd_server import free_port, keygen

WAIT_MS = 60_000


@pytest.fixture
def private_key(tmp_path: Path) -> Path:
    return keygen(tmp_path / "id_ed25519", "ed25519")


@pytest.fixture
def bad_keys(tmp_path: Path, private_key: Path) -> Dict[str, Path]:
    return write_bad_key_files(tmp_path / "keys", private_key)


def make_dialog(qtbot, tmp_path: Path, factory=None) -> ConnectionDialog:
    dialog = ConnectionDialog(
        ProfileStore(tmp_path / "profiles.json"),
        WorkerPool(),
        factory or (lambda profile: LocalTransport.for_root(tmp_path)),
        ssh_config_path=tmp_path / "no-ssh-config",
    )
    qtbot.addWidget(dialog)
    qtbot.waitSignal(dialog.profilesLoaded, timeout=WAIT_MS).wait()
    return dialog


def paste(qtbot, dialog: ConnectionDialog, command: str) -> List[str]:
    """Paste ``command`` and wait for the key file check; return [path, message]."""
    with qtbot.waitSignal(dialog.key_field.checked, timeout=WAIT_MS) as blocker:
        dialog.command_edit.setText(command)
        assert dialog.fill_from_command()
    return blocker.args


def refused_port_factory(tmp_path: Path):
    """Transports to a 127.0.0.1 port where nothing listens: a connection attempt ends in "connection refused"."""
    port = free_port()
    host_keys = HostKeyStore(own_path=tmp_path / "known_hosts", user_path=tmp_path / "user_known_hosts")

    def factory(profile: Profile) -> SshTransport:
        profile.port = port
        return SshTransport(profile, prompts=SshPrompts(), host_keys=host_keys, connect_timeout=10.0)

    return factory


# -- the key file check ------------------------------------------------------


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_pasted_bad_key_shown_under_field(qtbot, tmp_path, bad_keys, kind):
    dialog = make_dialog(qtbot, tmp_path)
    path = bad_keys[kind]

    checked_path, message = paste(qtbot, dialog, f"ssh root@127.0.0.1 -p 2222 -i '{path}'")

    assert checked_path == str(path)
    assert message == expected_message(kind, path)
    assert dialog.key_field.error_label.text() == message
    assert not dialog.key_field.error_label.isHidden()


def test_good_key_clears_message(qtbot, tmp_path, bad_keys, private_key):
    dialog = make_dialog(qtbot, tmp_path)
    paste(qtbot, dialog, f"ssh root@127.0.0.1 -p 2222 -i {bad_keys['public_pub']}")
    assert not dialog.key_field.error_label.isHidden()

    with qtbot.waitSignal(dialog.key_field.checked, timeout=WAIT_MS) as blocker:
        dialog.key_field.set_text(str(private_key))

    assert blocker.args == [str(private_key), ""]
    assert dialog.key_field.error_label.isHidden()


def test_typing_hides_old_message(qtbot, tmp_path, bad_keys):
    dialog = make_dialog(qtbot, tmp_path)
    paste(qtbot, dialog, f"ssh root@127.0.0.1 -p 2222 -i {bad_keys['missing']}")
    assert not dialog.key_field.error_label.isHidden()

    dialog.key_edit.setFocus()
    qtbot.keyClicks(dialog.key_edit, "x")

    assert dialog.key_field.error_label.isHidden()
    assert dialog.key_edit.text() == f"{bad_keys['missing']}x"


def test_agent_login_hides_message(qtbot, tmp_path, bad_keys):
    dialog = make_dialog(qtbot, tmp_path)
    paste(qtbot, dialog, f"ssh root@127.0.0.1 -p 2222 -i {bad_keys['folder']}")
    assert not dialog.key_field.error_label.isHidden()

    dialog.auth_combo.setCurrentIndex(dialog.auth_combo.findData("agent"))

    assert dialog.key_field.error_label.isHidden()
    assert not dialog.key_field.isEnabled()


def test_stored_profile_key_checked(qtbot, tmp_path, bad_keys):
    store = ProfileStore(tmp_path / "profiles.json")
    store.save(Profile(name="pod-a", host="127.0.0.1", port=2222, key_file=str(bad_keys["missing"])))

    dialog = ConnectionDialog(store, WorkerPool(), lambda profile: LocalTransport.for_root(tmp_path))
    qtbot.addWidget(dialog)
    # The list is read and the chosen profile's key checked only once the event loop runs, inside the wait.
    with qtbot.waitSignal(dialog.key_field.checked, timeout=WAIT_MS) as blocker:
        pass

    assert dialog.name_edit.text() == "pod-a"
    assert blocker.args == [str(bad_keys["missing"]), expected_message("missing", bad_keys["missing"])]


def test_save_stops_on_bad_key(qtbot, tmp_path, bad_keys):
    dialog = make_dialog(qtbot, tmp_path)
    path = bad_keys["public_pub"]
    paste(qtbot, dialog, f"ssh root@127.0.0.1 -p 2222 -i {path}")
    # The message from the paste is gone, so the one below comes from the save.
    dialog.key_field.clear_error()
    saved: List[Profile] = []
    dialog.profileSaved.connect(saved.append)

    assert dialog.save_profile() is not None
    qtbot.waitUntil(lambda: not dialog.key_field.error_label.isHidden(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: dialog.pool.active == [], timeout=WAIT_MS)

    assert dialog.key_field.error_label.text() == expected_message("public_pub", path)
    assert dialog.form_error.isHidden()
    assert saved == []
    assert not (tmp_path / "profiles.json").exists()


def test_connect_stops_on_bad_key(qtbot, tmp_path, bad_keys):
    dialog = make_dialog(qtbot, tmp_path)
    path = bad_keys["folder"]
    paste(qtbot, dialog, f"ssh root@127.0.0.1 -p 2222 -i {path}")
    requested: List[Profile] = []
    dialog.connectRequested.connect(requested.append)

    dialog._on_connect()
    qtbot.waitUntil(lambda: dialog.pool.active == [], timeout=WAIT_MS)

    assert requested == []
    assert dialog.key_field.error_label.text() == expected_message("folder", path)
    assert not (tmp_path / "profiles.json").exists()


@pytest.mark.parametrize("kind", ["missing", "public_pub", "putty"])
def test_connection_test_checks_key_first(qtbot, tmp_path, bad_keys, kind):
    dialog = make_dialog(qtbot, tmp_path, factory=refused_port_factory(tmp_path))
    path = bad_keys[kind]
    paste(qtbot, dialog, f"ssh root@127.0.0.1 -p 2222 -i {path}")
    dialog.key_field.clear_error()

    with qtbot.waitSignal(dialog.testFinished, timeout=WAIT_MS) as blocker:
        dialog.test_connection()

    ok, message = blocker.args
    assert not ok
    # "connection refused" would mean that the dialog connected before checking the key.
    assert message == expected_message(kind, path)
    assert dialog.test_result.text() == "Not connected: the key file above cannot be used."
    assert dialog.key_field.error_label.text() == message
    assert dialog.test_button.isEnabled()


def test_connection_test_good_key_connects(qtbot, tmp_path, private_key):
    """With a usable key the test goes on to connect, which fails here because nothing listens."""
    dialog = make_dialog(qtbot, tmp_path, factory=refused_port_factory(tmp_path))
    paste(qtbot, dialog, f"ssh root@127.0.0.1 -p 2222 -i {private_key}")

    with qtbot.waitSignal(dialog.testFinished, timeout=WAIT_MS) as blocker:
        dialog.test_connection()

    ok, message = blocker.args
    assert not ok
    assert message.startswith("connection refused by 127.0.0.1:")
    assert dialog.test_result.text() == f"Connection failed: {message}"
    assert dialog.key_field.error_label.isHidden()


UNREADABLE_DIALOG = """
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ppdesk.gui.connection_dialog import ConnectionDialog
from ppdesk.gui.workers import WorkerPool
from ppdesk.remote.local import LocalTransport
from ppdesk.remote.profiles import ProfileStore

app = QApplication([])
folder = Path(sys.argv[2])
dialog = ConnectionDialog(ProfileStore(folder / "profiles.json"), WorkerPool(),
                          lambda profile: LocalTransport.for_root(folder), ssh_config_path=folder / "none")
dialog.key_field.checked.connect(lambda path, message: (print(message), app.quit()))
# Ends a hung check; the test then fails on the missing message.
QTimer.singleShot(60_000, app.quit)
dialog.command_edit.setText(f"ssh root@127.0.0.1 -p 2222 -i '{sys.argv[1]}'")
dialog.fill_from_command()
app.exec()
"""


def test_unreadable_key_shown_under_field(tmp_path, private_key):
    """Runs the dialog in a child process without root's override capabilities, so the file mode applies."""
    locked = tmp_path / "id_locked"
    locked.write_bytes(private_key.read_bytes())
    locked.chmod(0)

    result = run_without_override(UNREADABLE_DIALOG, str(locked), str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"cannot read key file {locked}: permission denied; run ppdesk as the key's owner, "
        f"or give your user read access to it (chmod 600 keeps it private)"
    )


# -- profile names -----------------------------------------------------------


def test_pasted_command_names_profile(qtbot, tmp_path):
    dialog = make_dialog(qtbot, tmp_path)

    dialog.command_edit.setText("ssh root@203.0.113.7 -p 22101 -i ~/.ssh/id_ed25519")
    assert dialog.fill_from_command()
    assert dialog.name_edit.text() == "root@203.0.113.7 port 22101"

    # A second paste replaces the name the dialog made.
    dialog.command_edit.setText("ssh -p 40123 root@198.51.100.4 -L 8080:localhost:8080")
    assert dialog.fill_from_command()
    assert dialog.name_edit.text() == "root@198.51.100.4 port 40123"


def test_typed_name_survives_paste(qtbot, tmp_path):
    dialog = make_dialog(qtbot, tmp_path)
    dialog.command_edit.setText("ssh root@203.0.113.7 -p 22101")
    assert dialog.fill_from_command()

    dialog.name_edit.setText("flux trainer")
    dialog.command_edit.setText("ssh root@198.51.100.4 -p 40123")
    assert dialog.fill_from_command()

    assert dialog.name_edit.text() == "flux trainer"
    assert dialog.host_edit.text() == "198.51.100.4"


def test_pasted_name_avoids_listed(qtbot, tmp_path):
    store = ProfileStore(tmp_path / "profiles.json")
    for name in ("root@127.0.0.1 port 2222", "root@127.0.0.1 port 2222 (2)"):
        store.save(Profile(name=name, host="127.0.0.1", port=2222, auth="agent"))
    dialog = make_dialog(qtbot, tmp_path)
    assert dialog.profile_list.count() == 2

    dialog.new_profile()
    dialog.command_edit.setText("ssh -p 2222 root@127.0.0.1")
    assert dialog.fill_from_command()

    assert dialog.name_edit.text() == "root@127.0.0.1 port 2222 (3)"


def test_edited_profile_keeps_name(qtbot, tmp_path, private_key):
    store = ProfileStore(tmp_path / "profiles.json")
    store.save(Profile(name="pod-a", host="127.0.0.1", port=2222, auth="agent"))
    dialog = make_dialog(qtbot, tmp_path)
    assert dialog.name_edit.text() == "pod-a"

    dialog.command_edit.setText(f"ssh -p 2200 -i {private_key} ubuntu@127.0.0.1")
    assert dialog.fill_from_command()
    with qtbot.waitSignal(dialog.profileSaved, timeout=WAIT_MS):
        dialog.save_profile()

    assert dialog.name_edit.text() == "pod-a"
    stored = ProfileStore(store.path).load()
    assert [(profile.name, profile.user, profile.port) for profile in stored] == [("pod-a", "ubuntu", 2200)]


def test_new_profile_with_taken_name_rejected(qtbot, tmp_path):
    store = ProfileStore(tmp_path / "profiles.json")
    store.save(Profile(name="pod-a", host="127.0.0.1", port=2222, auth="agent"))
    before = store.path.read_bytes()
    dialog = make_dialog(qtbot, tmp_path)

    dialog.new_profile()
    dialog.name_edit.setText("pod-a")
    dialog.host_edit.setText("127.0.0.1")
    dialog.port_spin.setValue(2300)
    dialog.auth_combo.setCurrentIndex(dialog.auth_combo.findData("agent"))
    assert dialog.save_profile() is not None
    qtbot.waitUntil(lambda: not dialog.form_error.isHidden(), timeout=WAIT_MS)

    assert dialog.form_error.text() == (
        "a profile named 'pod-a' exists already; choose another name, or select that profile in the list to change it"
    )
    assert store.path.read_bytes() == before


def test_suggested_name_saved_as_shown(qtbot, tmp_path, private_key):
    dialog = make_dialog(qtbot, tmp_path)
    paste(qtbot, dialog, f"ssh root@127.0.0.1 -p 2222 -i {private_key}")

    with qtbot.waitSignal(dialog.profilesLoaded, timeout=WAIT_MS, check_params_cb=lambda count: count == 1):
        dialog.save_profile()

    document = json.loads((tmp_path / "profiles.json").read_text())
    assert [entry["name"] for entry in document["profiles"]] == ["root@127.0.0.1 port 2222"]
    assert dialog.profile_list.item(0).text() == "root@127.0.0.1 port 2222"


@pytest.mark.parametrize("kind, suggested", [("public_pub", "id_pair"), ("folder", "id_ed25519")])
def test_use_button_takes_private_key(qtbot, tmp_path, bad_keys, kind, suggested):
    dialog = make_dialog(qtbot, tmp_path)
    paste(qtbot, dialog, f"ssh root@127.0.0.1 -p 2222 -i {bad_keys[kind]}")
    button = dialog.key_field.use_button
    assert not button.isHidden()
    assert button.text() == f"Use {suggested}"

    with qtbot.waitSignal(dialog.key_field.checked, timeout=WAIT_MS) as blocker:
        button.click()

    expected = bad_keys[kind].parent / suggested if kind == "public_pub" else bad_keys[kind] / suggested
    assert blocker.args == [str(expected), ""]
    assert dialog.key_edit.text() == str(expected)
    assert dialog.key_field.error_label.isHidden()
    assert button.isHidden()


def test_no_use_button_without_private_key(qtbot, tmp_path, bad_keys):
    dialog = make_dialog(qtbot, tmp_path)
    paste(qtbot, dialog, f"ssh root@127.0.0.1 -p 2222 -i {bad_keys['public_pub_alone']}")
    assert not dialog.key_field.error_label.isHidden()
    assert dialog.key_field.use_button.isHidden()


def test_import_does_not_replace_stored(qtbot, tmp_path):
    store = ProfileStore(tmp_path / "profiles.json")
    store.save(Profile(name="trainer", host="127.0.0.1", port=2222, auth="agent"))
    before = store.path.read_bytes()
    config = tmp_path / "ssh_config"
    config.write_text("Host trainer\n    HostName 127.0.0.1\n    Port 2200\n    User ubuntu\n")
    dialog = ConnectionDialog(store, WorkerPool(), lambda profile: LocalTransport.for_root(tmp_path),
                              ssh_config_path=config)
    qtbot.addWidget(dialog)
    qtbot.waitSignal(dialog.profilesLoaded, timeout=WAIT_MS).wait()

    dialog.import_from_ssh_config()
    qtbot.waitUntil(lambda: dialog.port_spin.value() == 2200, timeout=WAIT_MS)
    assert dialog.save_profile() is not None
    qtbot.waitUntil(lambda: not dialog.form_error.isHidden(), timeout=WAIT_MS)

    assert dialog.form_error.text().startswith("a profile named 'trainer' exists already")
    assert store.path.read_bytes() == before


def test_imported_proxy_command_shown_and_saved(qtbot, tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text(
        "Host behind-relay\n    HostName 127.0.0.1\n    Port 2200\n    ProxyCommand nc -q0 %h %p\n"
    )
    dialog = ConnectionDialog(ProfileStore(tmp_path / "profiles.json"), WorkerPool(),
                              lambda profile: LocalTransport.for_root(tmp_path), ssh_config_path=config)
    qtbot.addWidget(dialog)
    qtbot.waitSignal(dialog.profilesLoaded, timeout=WAIT_MS).wait()

    dialog.import_from_ssh_config()
    qtbot.waitUntil(lambda: dialog.name_edit.text() == "behind-relay", timeout=WAIT_MS)
    assert dialog.proxy_edit.text() == "nc -q0 127.0.0.1 2200"

    dialog.proxy_edit.setText("nc -q0 127.0.0.1 2201")
    with qtbot.waitSignal(dialog.profileSaved, timeout=WAIT_MS):
        dialog.save_profile()

    assert ProfileStore(tmp_path / "profiles.json").get("behind-relay").proxy_command == "nc -q0 127.0.0.1 2201"
    dialog.new_profile()
    assert dialog.proxy_edit.text() == ""
