"""The agent bundle cache on a pod against a real sshd: where the bundle goes, and what is never created.

Each server sets the pod user's HOME (or XDG_CACHE_HOME) with sshd's
SetEnv, so the bundle lands in tmp_path and never in the real home of the
user who runs the tests. Sessions are counted in the server's log, where
OpenSSH at LogLevel VERBOSE writes one "Starting session:" line per exec
and per subsystem.
"""

from __future__ import annotations

import shlex
import stat
import sys
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import paramiko
import pytest

from ppdesk.core.layout import WorkspaceLayout
from ppdesk.remote.agent_start import PodFacts, StartedAgent, inspect_pod_over_sftp, start_pod_agent
from ppdesk.remote.bundle import core_bundle
from ppdesk.remote.bundle_cache import (
    BUNDLE_MISSING_STATUS,
    MissingBundle,
    missing_bundle,
    start_command,
    upload_to_cache,
)
from ppdesk.remote.errors import AgentError
from ppdesk.remote.pod_agent import upload_bundle

from helpers.sshd_server import ClientKeys, SshdServer, start_server_with_options


class Pod:
    """A private sshd whose sessions get ``environment`` (NAME=VALUE entries of sshd's SetEnv), and logins to it.

    XDG_CACHE_HOME is empty unless ``environment`` sets it, so the bundle
    cache follows HOME.
    """

    def __init__(self, folder: Path, keys: ClientKeys, environment: List[str]) -> None:
        self.keys = keys
        variables = dict(item.split("=", 1) for item in ["XDG_CACHE_HOME=", *environment])
        setenv = "SetEnv " + " ".join(f"{name}={value}" for name, value in variables.items())
        self.server: SshdServer = start_server_with_options(folder, keys, [setenv])
        self.transports: List[paramiko.Transport] = []
        self.agents: List[StartedAgent] = []
        self.log_offset = 0

    def login(self) -> paramiko.Transport:
        transport = paramiko.Transport(("127.0.0.1", self.server.port))
        self.transports.append(transport)
        transport.start_client(timeout=10)
        transport.auth_publickey("root", paramiko.PKey.from_path(str(self.keys["ed25519"])))
        return transport

    def start(self, root: Path, python: Optional[str] = None) -> Tuple[StartedAgent, List[Tuple[Optional[MissingBundle], Optional[str]]]]:
        """Start the agent for the workspace ``root`` on a new connection; return it and the inspect calls."""
        transport = self.login()
        layout = WorkspaceLayout.from_root(str(root))
        bundle = core_bundle()
        calls: List[Tuple[Optional[MissingBundle], Optional[str]]] = []

        def inspect(missing: Optional[MissingBundle], venv: Optional[str]) -> PodFacts:
            calls.append((missing, venv))
            with paramiko.SFTPClient.from_transport(transport) as sftp:
                return inspect_pod_over_sftp(sftp, bundle, layout, missing, venv)

        started = start_pod_agent(transport, layout, python, bundle.filename, inspect, "test agent")
        self.agents.append(started)
        return started, calls

    def mark_log(self) -> None:
        self.log_offset = len(self.server.read_log())

    def sessions(self) -> List[str]:
        return [line for line in self.server.read_log()[self.log_offset :].splitlines() if "Starting session:" in line]

    def close(self) -> None:
        for started in self.agents:
            started.agent.close()
        for transport in self.transports:
            transport.close()
        self.server.stop()


@pytest.fixture
def make_pod(tmp_path: Path, client_keys: ClientKeys) -> Iterator:
    """Return a function that starts a Pod with the given SetEnv entries; every pod is stopped afterwards."""
    pods: List[Pod] = []

    def make(*environment: str) -> Pod:
        pod = Pod(tmp_path / f"sshd-{len(pods)}", client_keys, list(environment))
        pods.append(pod)
        return pod

    yield make
    for pod in pods:
        pod.close()


@pytest.fixture
def pod_home(tmp_path: Path) -> Path:
    home = tmp_path / "pod-home"
    home.mkdir()
    return home


def simpletuner_root(folder: Path) -> Path:
    (folder / "SimpleTuner" / "config").mkdir(parents=True)
    return folder


def bundle_file(folder: Path) -> Path:
    return folder / core_bundle().filename


@pytest.mark.ssh
def test_bundle_goes_to_home_cache(make_pod, pod_home, tmp_path):
    pod = make_pod(f"HOME={pod_home}")
    root = tmp_path / "x" / "nothere"

    started, calls = pod.start(root)

    cache = pod_home / ".cache" / "ppdesk" / "agent"
    assert bundle_file(cache).read_bytes() == core_bundle().data
    assert started.probe["python"].startswith("3.")
    assert calls == [(MissingBundle(str(pod_home / ".cache")), str(root / "SimpleTuner" / ".venv" / "bin" / "python"))]
    for folder in (pod_home / ".cache", pod_home / ".cache" / "ppdesk", cache):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert not (tmp_path / "x").exists()


@pytest.mark.ssh
def test_second_start_uploads_nothing(make_pod, pod_home, tmp_path):
    pod = make_pod(f"HOME={pod_home}")
    root = simpletuner_root(tmp_path / "ws")
    pod.start(root)
    cached = bundle_file(pod_home / ".cache" / "ppdesk" / "agent")
    before = cached.stat().st_mtime_ns
    pod.mark_log()

    started, calls = pod.start(root)

    assert calls == []
    assert cached.stat().st_mtime_ns == before
    assert started.probe["python"].startswith("3.")
    # One exec and no SFTP subsystem.
    assert len(pod.sessions()) == 1
    assert "Starting session: command" in pod.sessions()[0]
    assert not (root / ".ppdesk").exists()


@pytest.mark.ssh
def test_xdg_cache_home_preferred(make_pod, pod_home, tmp_path):
    xdg = tmp_path / "xdg-cache"
    pod = make_pod(f"HOME={pod_home}", f"XDG_CACHE_HOME={xdg}")

    pod.start(tmp_path / "nothere")

    assert bundle_file(xdg / "ppdesk" / "agent").is_file()
    assert not (pod_home / ".cache").exists()


@pytest.mark.ssh
def test_missing_home_uses_workspace(make_pod, tmp_path):
    home = tmp_path / "no-such-home"
    pod = make_pod(f"HOME={home}")
    root = simpletuner_root(tmp_path / "ws")

    started, _calls = pod.start(root)
    again, calls = pod.start(root)

    assert bundle_file(root / ".ppdesk").read_bytes() == core_bundle().data
    assert again.probe["python"].startswith("3.")
    assert calls == []
    assert not home.exists()


@pytest.mark.ssh
def test_missing_home_and_root_fail(make_pod, tmp_path):
    home = tmp_path / "no-such-home"
    pod = make_pod(f"HOME={home}")
    root = tmp_path / "x" / "nothere"

    with pytest.raises(AgentError) as caught:
        pod.start(root)

    assert caught.value.kind == "upload_failed"
    assert caught.value.message == (
        f"cannot store the agent bundle on the pod: {home}/.cache/ppdesk/agent: {home} does not exist on the pod; "
        f"{root}/.ppdesk is not used, because {root}/SimpleTuner does not exist. Make the pod user's home folder "
        f"writable, or set the workspace root to the folder that contains SimpleTuner"
    )
    assert not home.exists()
    assert not (tmp_path / "x").exists()


@pytest.mark.ssh
def test_no_home_variable_uses_workspace(make_pod, tmp_path):
    pod = make_pod("HOME=")
    root = simpletuner_root(tmp_path / "ws")

    _started, calls = pod.start(root)

    assert calls[0][0] == MissingBundle(None)
    assert bundle_file(root / ".ppdesk").is_file()


@pytest.mark.ssh
def test_venv_python_still_first(make_pod, pod_home, tmp_path):
    pod = make_pod(f"HOME={pod_home}")
    root = simpletuner_root(tmp_path / "ws")
    venv_bin = root / "SimpleTuner" / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(sys.executable)

    started, _calls = pod.start(root)

    assert started.probe["executable"] == str(venv_bin / "python")


@pytest.mark.ssh
def test_configured_python_alone(make_pod, pod_home, tmp_path):
    pod = make_pod(f"HOME={pod_home}")
    missing = str(tmp_path / "no-python")

    with pytest.raises(AgentError) as caught:
        pod.start(tmp_path / "ws", python=missing)

    assert caught.value.kind == "no_python"
    assert f"{missing}: not found (exit status 127)" in caught.value.message
    assert "tried: " + missing in caught.value.message


@pytest.mark.ssh
def test_upload_never_creates_parent(make_pod, pod_home, tmp_path):
    pod = make_pod(f"HOME={pod_home}")
    transport = pod.login()
    target = tmp_path / "x" / "nothere" / ".ppdesk"

    with paramiko.SFTPClient.from_transport(transport) as sftp:
        with pytest.raises(FileNotFoundError) as caught:
            upload_bundle(sftp, core_bundle(), str(target))

    assert str(caught.value) == f"{tmp_path / 'x' / 'nothere'} does not exist on the pod"
    assert not (tmp_path / "x").exists()


@pytest.mark.ssh
def test_file_in_the_way_falls_back(make_pod, pod_home, tmp_path):
    (pod_home / ".cache").write_text("a file where the cache folder belongs\n")
    pod = make_pod(f"HOME={pod_home}")
    root = simpletuner_root(tmp_path / "ws")
    transport = pod.login()

    with paramiko.SFTPClient.from_transport(transport) as sftp:
        folder = upload_to_cache(sftp, core_bundle(), MissingBundle(str(pod_home / ".cache")), WorkspaceLayout.from_root(str(root)))

    assert folder == str(root / ".ppdesk")
    assert (pod_home / ".cache").read_text() == "a file where the cache folder belongs\n"


def test_start_command_words(tmp_path):
    command = start_command("python3", "/ws/SimpleTuner/.venv/bin/python", "ppdesk-core-0123.pyz", "/ws/.ppdesk")

    words = shlex.split(command)

    assert words[:2] == ["/bin/sh", "-c"]
    assert words[3:] == ["sh", "/ws/SimpleTuner/.venv/bin/python", "python3", "ppdesk-core-0123.pyz", "/ws/.ppdesk"]


@pytest.mark.parametrize(
    ("status", "stderr", "expected"),
    [
        (BUNDLE_MISSING_STATUS, "last stderr lines:\nppdesk-agent-cache-home: /home/u/.cache", MissingBundle("/home/u/.cache")),
        (BUNDLE_MISSING_STATUS, "last stderr lines:\nppdesk-agent-cache-home:", MissingBundle(None)),
        (BUNDLE_MISSING_STATUS, "ppdesk-agent-cache-home: relative/.cache", MissingBundle(None)),
        (BUNDLE_MISSING_STATUS, "ppdesk-agent-cache-home: /home/\ufffd/.cache", MissingBundle(None)),
        (BUNDLE_MISSING_STATUS, "the agent wrote nothing to stderr", None),
        (127, "ppdesk-agent-cache-home: /home/u/.cache", None),
        (None, "", None),
    ],
)
def test_missing_bundle_report(status, stderr, expected):
    assert missing_bundle(status, stderr) == expected


def test_missing_bundle_folder():
    assert MissingBundle("/home/u/.cache/").folder == "/home/u/.cache/ppdesk/agent"
    assert MissingBundle(None).folder is None
