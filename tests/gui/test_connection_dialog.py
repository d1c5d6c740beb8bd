"""The connection dialog, the host key dialogs and the GUI-thread prompt bridge."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Dict, List

import paramiko
import shiboken6
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ppdesk.core.layout import WorkspaceLayout
from ppdesk.gui.connection_dialog import ConnectionDialog
from ppdesk.gui.hostkey_dialog import ChangedHostKeyDialog, GuiPrompter, HostKeyDialog
from ppdesk.gui.workers import WorkerPool
from ppdesk.remote.hostkeys import HostKeyChangedError, HostKeyInfo, StoredKey, sha256_fingerprint
from ppdesk.remote.local import LocalTransport
from ppdesk.remote.profiles import Profile, ProfileStore

from helpers.sshd_server import keygen

WAIT_MS = 60_000
GUI_THREAD = threading.get_ident()


class ThreadRecordingStore(ProfileStore):
    """A ProfileStore that records the thread of every read and write."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.threads: List[int] = []

    def load(self) -> List[Profile]:
        self.threads.append(threading.get_ident())
        return super().load()


def make_dialog(qtbot, tmp_path: Path, factory=None, ssh_config: Path | None = None) -> ConnectionDialog:
    """Build the dialog and wait until its worker has listed the stored profiles."""
    store = ThreadRecordingStore(tmp_path / "profiles.json")
    pool = WorkerPool()
    dialog = ConnectionDialog(
        store,
        pool,
        factory or (lambda profile: LocalTransport.for_root(tmp_path)),
        ssh_config_path=ssh_config,
    )
    qtbot.addWidget(dialog)
    qtbot.waitSignal(dialog.profilesLoaded, timeout=WAIT_MS).wait()
    return dialog


def test_pasted_command_fills_form(qtbot, tmp_path):
    dialog = make_dialog(qtbot, tmp_path)
    dialog.command_edit.setText("ssh root@127.0.0.1 -p 22101 -i ~/.ssh/id_ed25519")

    assert dialog.fill_from_command()

    assert dialog.host_edit.text() == "127.0.0.1"
    assert dialog.port_spin.value() == 22101
    assert dialog.user_edit.text() == "root"
    assert dialog.auth_combo.currentData() == "key"
    assert dialog.key_edit.text() == "~/.ssh/id_ed25519"
    assert dialog.name_edit.text() == "root@127.0.0.1 port 22101"
    assert dialog.command_error.isHidden()


def test_bad_command_shows_error_inline(qtbot, tmp_path):
    dialog = make_dialog(qtbot, tmp_path)
    dialog.command_edit.setText("ssh -J jump@127.0.0.1 root@127.0.0.1")

    assert not dialog.fill_from_command()

    assert not dialog.command_error.isHidden()
    assert "ProxyJump" in dialog.command_error.text()
    assert dialog.host_edit.text() == ""


def test_save_profile_writes_store(qtbot, tmp_path):
    key = keygen(tmp_path / "id_ed25519", "ed25519")
    dialog = make_dialog(qtbot, tmp_path)
    dialog.command_edit.setText(f"ssh root@127.0.0.1 -p 2222 -i {key}")
    dialog.fill_from_command()
    dialog.name_edit.setText("local-pod")
    dialog.root_edit.setText("/srv/workspace")
    dialog.python_edit.setText("/srv/venv/bin/python")

    with qtbot.waitSignal(dialog.profilesLoaded, timeout=WAIT_MS, check_params_cb=lambda count: count == 1):
        saved = dialog.save_profile()

    assert saved is not None
    threads = list(dialog.store.threads)
    assert threads
    assert GUI_THREAD not in threads
    stored = dialog.store.get("local-pod")
    assert (stored.host, stored.port, stored.key_file, stored.root) == ("127.0.0.1", 2222, str(key), "/srv/workspace")
    assert stored.python == "/srv/venv/bin/python"
    assert dialog.profile_list.count() == 1


def test_delete_profile_in_worker(qtbot, tmp_path):
    dialog = make_dialog(qtbot, tmp_path)
    for name in ("pod-a", "pod-b"):
        dialog.store.save(Profile(name=name, host="127.0.0.1", port=2222, key_file="/tmp/key"))
    with qtbot.waitSignal(dialog.profilesLoaded, timeout=WAIT_MS, check_params_cb=lambda count: count == 2):
        dialog._reload("pod-a")

    with qtbot.waitSignal(dialog.profilesLoaded, timeout=WAIT_MS, check_params_cb=lambda count: count == 1):
        dialog.delete_profile()

    assert [profile.name for profile in dialog.store.load()] == ["pod-b"]
    assert dialog.profile_list.item(0).text() == "pod-b"


def test_connect_saves_then_requests(qtbot, tmp_path):
    key = keygen(tmp_path / "id_ed25519", "ed25519")
    dialog = make_dialog(qtbot, tmp_path)
    dialog.command_edit.setText(f"ssh root@127.0.0.1 -p 2222 -i {key}")
    dialog.fill_from_command()
    dialog.name_edit.setText("local-pod")

    with qtbot.waitSignal(dialog.connectRequested, timeout=WAIT_MS) as blocker:
        dialog._on_connect()

    assert blocker.args[0].name == "local-pod"
    assert dialog.store.get("local-pod").port == 2222


def test_invalid_profile_shows_error(qtbot, tmp_path):
    dialog = make_dialog(qtbot, tmp_path)
    dialog.name_edit.setText("pod")
    dialog.host_edit.setText("127.0.0.1")
    dialog.auth_combo.setCurrentIndex(dialog.auth_combo.findData("key"))
    dialog.key_edit.clear()

    assert dialog.save_profile() is None

    assert not dialog.form_error.isHidden()
    assert "key file" in dialog.form_error.text()
    assert not (tmp_path / "profiles.json").exists()


def test_import_from_ssh_config(qtbot, tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text("Host trainer\n    HostName 127.0.0.1\n    Port 2200\n    User ubuntu\n    IdentityFile /tmp/trainer_key\n")
    dialog = make_dialog(qtbot, tmp_path, ssh_config=config)

    dialog.import_from_ssh_config()
    qtbot.waitUntil(lambda: dialog.name_edit.text() == "trainer", timeout=WAIT_MS)

    assert dialog.host_edit.text() == "127.0.0.1"
    assert dialog.port_spin.value() == 2200
    assert dialog.user_edit.text() == "ubuntu"
    assert dialog.key_edit.text() == "/tmp/trainer_key"


def test_connection_test_reports_probe(qtbot, tmp_path):
    # A workspace root without SimpleTuner/config gives a warning instead; see test_connection_test_workspace.py.
    (tmp_path / "SimpleTuner" / "config").mkdir(parents=True)
    dialog = make_dialog(qtbot, tmp_path)
    dialog.set_form(Profile(name="local", host="127.0.0.1", auth="agent"))

    with qtbot.waitSignal(dialog.testFinished, timeout=WAIT_MS) as blocker:
        dialog.test_connection()

    ok, text = blocker.args
    assert ok, text
    assert text.startswith("Connected. Python 3.")
    assert dialog.test_result.text() == text
    assert dialog.test_button.isEnabled()


def test_connection_test_reports_failure(qtbot, tmp_path):
    missing = str(tmp_path / "no-such-python")
    dialog = make_dialog(qtbot, tmp_path, factory=lambda profile: LocalTransport(WorkspaceLayout.from_root(str(tmp_path)), missing))
    dialog.set_form(Profile(name="local", host="127.0.0.1", auth="agent"))

    with qtbot.waitSignal(dialog.testFinished, timeout=WAIT_MS) as blocker:
        dialog.test_connection()

    ok, message = blocker.args
    assert not ok
    assert message.startswith(f"cannot start '{missing}'")
    assert "Traceback" not in message
    assert dialog.test_result.text() == f"Connection failed: {message}"


def host_key_info() -> HostKeyInfo:
    key = paramiko.ECDSAKey.generate()
    return HostKeyInfo("127.0.0.1", 2222, key.get_name(), sha256_fingerprint(key), "/tmp/known_hosts")


def test_host_key_dialog_shows_fingerprint(qtbot):
    info = host_key_info()
    dialog = HostKeyDialog(info)
    qtbot.addWidget(dialog)

    assert dialog.fingerprint_label.text() == info.fingerprint
    assert info.fingerprint.startswith("SHA256:")


def test_changed_key_dialog_shows_both(qtbot, tmp_path):
    stored = paramiko.ECDSAKey.generate()
    sent = paramiko.ECDSAKey.generate()
    error = HostKeyChangedError("changed", "127.0.0.1", 2222, StoredKey(stored, tmp_path / "known_hosts"), sent)
    dialog = ChangedHostKeyDialog(error)
    qtbot.addWidget(dialog)

    assert sha256_fingerprint(stored) in dialog.stored_label.text()
    assert sha256_fingerprint(sent) in dialog.new_label.text()


def test_prompter_answers_on_gui_thread(qtbot):
    prompter = GuiPrompter()
    seen: List[Any] = []

    def show_host_key(info: HostKeyInfo) -> bool:
        seen.append(("host_key", info.port, threading.get_ident()))
        return True

    def show_password(user: str, host: str) -> str:
        seen.append(("password", f"{user}@{host}", threading.get_ident()))
        return "typed"

    prompter.show_host_key = show_host_key
    prompter.show_password = show_password
    answers: Dict[str, Any] = {}

    def worker() -> None:
        answers["host_key"] = prompter.confirm_host_key(host_key_info())
        answers["password"] = prompter.ask_password("root", "127.0.0.1")

    thread = threading.Thread(target=worker)
    thread.start()
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=WAIT_MS)
    thread.join()

    assert answers == {"host_key": True, "password": "typed"}
    assert seen == [("host_key", 2222, GUI_THREAD), ("password", "root@127.0.0.1", GUI_THREAD)]


def test_prompter_shows_real_dialog(qtbot):
    prompter = GuiPrompter()
    answers: List[bool] = []
    shown: List[str] = []

    def accept_dialog() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, HostKeyDialog):
            shown.append(dialog.fingerprint_label.text())
            dialog.accept_button.click()

    # The dialog runs a nested event loop, where this timer keeps firing.
    clicker = QTimer()
    clicker.timeout.connect(accept_dialog)
    clicker.start(20)
    info = host_key_info()
    thread = threading.Thread(target=lambda: answers.append(prompter.confirm_host_key(info)))
    thread.start()
    qtbot.waitUntil(lambda: answers != [], timeout=WAIT_MS)
    thread.join()
    clicker.stop()

    assert answers == [True]
    assert shown == [info.fingerprint]


def test_prompter_after_shutdown_says_no(qtbot):
    prompter = GuiPrompter()
    prompter.shut_down()
    result: List[Any] = []
    thread = threading.Thread(target=lambda: result.append(prompter.ask_passphrase("/tmp/key")))
    thread.start()
    thread.join()
    assert result == [None]


def write_ssh_config(tmp_path: Path) -> Path:
    config = tmp_path / "ssh_config"
    config.write_text("Host trainer\n    HostName 127.0.0.1\n    Port 2200\n    User ubuntu\n")
    return config


def test_import_result_after_close_is_dropped(qtbot, tmp_path):
    dialog = make_dialog(qtbot, tmp_path, ssh_config=write_ssh_config(tmp_path))
    dialog.show()
    asked: List[List[str]] = []
    dialog.choose_host = lambda names: asked.append(names) or None

    # The pool starts the import on the next event loop turn, so it ends after the close.
    dialog.import_from_ssh_config()
    dialog.close()
    qtbot.waitUntil(lambda: dialog.pool.active == [], timeout=WAIT_MS)

    assert asked == []
    assert dialog.name_edit.text() == ""
    assert dialog.host_edit.text() == ""
    assert not dialog.form_error.isVisibleTo(dialog)


def test_import_result_after_delete_is_dropped(qtbot, tmp_path):
    store = ProfileStore(tmp_path / "profiles.json")
    pool = WorkerPool()
    dialog = ConnectionDialog(
        store, pool, lambda profile: LocalTransport.for_root(tmp_path), ssh_config_path=write_ssh_config(tmp_path)
    )
    qtbot.waitUntil(lambda: pool.active == [], timeout=WAIT_MS)

    dialog.import_from_ssh_config()
    shiboken6.delete(dialog)
    qtbot.waitUntil(lambda: pool.active == [], timeout=WAIT_MS)

    assert not shiboken6.isValid(dialog)


def test_enter_goes_to_save_and_connect(qtbot, tmp_path):
    dialog = make_dialog(qtbot, tmp_path)
    dialog.show()
    qtbot.waitExposed(dialog)

    assert dialog.connect_button.isDefault()
    assert not dialog.save_button.isDefault()
    assert not dialog.test_button.autoDefault()
