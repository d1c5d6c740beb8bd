"""SshTransport, the command line and the connection dialog with default key files and the pod's bundle cache.

Each test has a private sshd whose sessions get HOME (and so ~/.cache) in
tmp_path through sshd's SetEnv, and the client's HOME points into tmp_path
too, so no test reads the real ~/.ssh or writes the real ~/.cache.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterator, List

import pytest

from ppdesk.cli import main
from ppdesk.remote.bundle import core_bundle
from ppdesk.remote.ssh_auth import SshPrompts

from helpers.sshd_server import PASSPHRASE, ClientKeys, SshdServer, start_server_with_options

pytestmark = pytest.mark.ssh


@pytest.fixture
def pod_home(tmp_path: Path) -> Path:
    home = tmp_path / "pod-home"
    home.mkdir()
    return home


@pytest.fixture
def pod(tmp_path: Path, client_keys: ClientKeys, pod_home: Path) -> Iterator[SshdServer]:
    """A private sshd whose sessions have HOME set to ``pod_home`` and no XDG_CACHE_HOME."""
    server = start_server_with_options(tmp_path / "sshd", client_keys, [f"SetEnv HOME={pod_home} XDG_CACHE_HOME="])
    yield server
    server.stop()


@pytest.fixture
def client_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME, the user config folder and no SSH agent for the client, all in tmp_path."""
    home = tmp_path / "client-home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.delenv("PPDESK_KEY_PASSPHRASE", raising=False)
    return home


def install_key(home: Path, name: str, source: Path) -> Path:
    target = home / ".ssh" / name
    shutil.copyfile(source, target)
    target.chmod(0o600)
    return target


def sessions(server: SshdServer, offset: int) -> List[str]:
    return [line for line in server.read_log()[offset:].splitlines() if "Starting session:" in line]


def test_scan_without_key_option(pod, client_home, client_keys, demo_workspace, capsys):
    install_key(client_home, "id_ed25519", client_keys["ed25519"])

    status = main(["scan", "--ssh", f"ssh -p {pod.port} root@127.0.0.1", "--remote-root", str(demo_workspace),
                   "--accept-new-host-key", "--json"])

    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "sofia_001_lr1e-4" in [config["name"] for config in json.loads(captured.out)]


def test_scan_without_any_key_message(pod, client_home, demo_workspace, capsys):
    status = main(["scan", "--ssh", f"ssh -p {pod.port} root@127.0.0.1", "--remote-root", str(demo_workspace),
                   "--accept-new-host-key"])

    captured = capsys.readouterr()
    assert status != 0
    assert "ppdesk: no SSH key found to log in to root@127.0.0.1: tried the SSH agent (not available" in captured.err


def test_encrypted_default_key_asked_once(make_ssh, pod, client_home, client_keys, demo_workspace):
    key_file = install_key(client_home, "id_ed25519", client_keys["ed25519_passphrase"])
    asked: List[str] = []

    def ask(path: str) -> str:
        asked.append(path)
        return PASSPHRASE

    prompts = SshPrompts(confirm_host_key=lambda info: True, ask_passphrase=ask)
    transport = make_ssh(server=pod, root=demo_workspace, auth="agent", key_file=None, prompts=prompts)
    transport.connect()
    transport.reconnect(force=True)

    assert asked == [str(key_file)]
    assert transport.run_agent("probe")["python"].startswith("3.")


def test_wrong_root_scan_creates_nothing(pod, pod_home, client_home, client_keys, tmp_path, capsys):
    key = install_key(client_home, "id_ed25519", client_keys["ed25519"])
    root = tmp_path / "x" / "nothere"

    status = main(["scan", "--ssh", f"ssh -p {pod.port} root@127.0.0.1 -i {key}", "--remote-root", str(root),
                   "--accept-new-host-key"])

    captured = capsys.readouterr()
    assert status != 0
    assert f"config folder not found: {root}/SimpleTuner/config" in captured.err
    assert not (tmp_path / "x").exists()
    cached = pod_home / ".cache" / "ppdesk" / "agent" / core_bundle().filename
    assert cached.read_bytes() == core_bundle().data


def test_second_connect_uploads_nothing(make_ssh, pod, pod_home, demo_workspace):
    with make_ssh(server=pod, root=demo_workspace) as first:
        first.run_agent("probe")
    cached = pod_home / ".cache" / "ppdesk" / "agent" / core_bundle().filename
    before = cached.stat().st_mtime_ns
    offset = len(pod.read_log())

    with make_ssh(server=pod, root=demo_workspace) as second:
        second.run_agent("scan")
        started = sessions(pod, offset)

    assert cached.stat().st_mtime_ns == before
    assert not any("subsystem 'sftp'" in line for line in started)
    assert not (demo_workspace / ".ppdesk").exists()


def test_dialog_wrong_root_warns(qtbot, make_ssh, pod, tmp_path):
    from ppdesk.gui.connection_dialog import WARNING_STYLE, ConnectionDialog
    from ppdesk.gui.workers import WorkerPool
    from ppdesk.remote.profiles import Profile, ProfileStore

    root = tmp_path / "x" / "nothere"
    dialog = ConnectionDialog(
        ProfileStore(tmp_path / "profiles.json"), WorkerPool(), lambda profile: make_ssh(server=pod, root=root)
    )
    qtbot.addWidget(dialog)
    qtbot.waitSignal(dialog.profilesLoaded, timeout=60_000).wait()
    dialog.set_form(Profile(name="pod", host="127.0.0.1", port=pod.port, auth="agent", root=str(root)))

    with qtbot.waitSignal(dialog.testFinished, timeout=60_000) as blocker:
        dialog.test_connection()

    connected, text = blocker.args
    assert connected, text
    assert text.startswith(f"Connected, but {root} does not exist on the pod; set the workspace root")
    assert dialog.test_result.styleSheet() == WARNING_STYLE
    assert not (tmp_path / "x").exists()
