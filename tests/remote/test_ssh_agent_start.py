"""The first agent request of a connection against a real sshd: starts, interpreter order, bundle upload, errors.

Sessions are counted in the private sshd's log, where OpenSSH at LogLevel
VERBOSE writes one "Starting session:" line per exec and per subsystem
before it starts them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List

import paramiko
import pytest

from ppdesk.remote.errors import AgentError
from ppdesk.remote.local import LocalTransport

# A stand-in interpreter: runs the bundle with this test's Python but reports Python 3.9.
OLD_PYTHON_SCRIPT = """#!{python}
import platform
import runpy
import sys

platform.python_version = lambda: "3.9.18"
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


class SessionLog:
    """The "Starting session" lines an sshd logged after this object was made."""

    def __init__(self, log_path: Path) -> None:
        self.path = log_path
        self.offset = log_path.stat().st_size

    def sessions(self) -> List[str]:
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            text = handle.read().decode("utf-8", errors="replace")
        return [line for line in text.splitlines() if "Starting session:" in line]

    def commands(self) -> int:
        return sum("Starting session: command" in line for line in self.sessions())

    def sftp_sessions(self) -> int:
        return sum("subsystem 'sftp'" in line for line in self.sessions())


def old_python(folder: Path) -> Path:
    """Write an executable stand-in interpreter that reports Python 3.9 into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "python"
    script.write_text(OLD_PYTHON_SCRIPT.format(python=sys.executable))
    script.chmod(0o755)
    return script


@pytest.mark.ssh
def test_first_request_starts_one_process(make_ssh, private_sshd, demo_workspace):
    with make_ssh(server=private_sshd, root=demo_workspace) as first:
        first.run_agent("probe")
    log = SessionLog(private_sshd.log_path)

    with make_ssh(server=private_sshd, root=demo_workspace) as transport:
        data = transport.run_agent("scan")
        commands = log.commands()
        sftp_sessions = log.sftp_sessions()

    assert data == LocalTransport.for_root(demo_workspace).run_agent("scan")
    assert commands == 1
    assert sftp_sessions == 0


@pytest.mark.ssh
def test_missing_bundle_uploaded_then_started(make_ssh, private_sshd, demo_workspace):
    log = SessionLog(private_sshd.log_path)

    with make_ssh(server=private_sshd, root=demo_workspace) as transport:
        info = transport.agent_info()
        commands = log.commands()
        sftp_sessions = log.sftp_sessions()
        pid = transport.run_agent("probe")["pid"]

    bundles = list(private_sshd.bundle_cache.glob("ppdesk-core-*.pyz"))
    assert len(bundles) == 1
    assert not list(private_sshd.bundle_cache.glob("*.tmp"))
    assert not (demo_workspace / ".ppdesk").exists()
    # One start found no bundle, SFTP uploaded it, and the second start runs.
    assert commands == 2
    assert sftp_sessions == 1
    assert info["pid"] == pid


@pytest.mark.ssh
def test_old_venv_python_falls_back(make_ssh, private_sshd, tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    with make_ssh(server=private_sshd, root=root) as first:
        first.run_agent("probe")
    venv_python = old_python(root / "SimpleTuner" / ".venv" / "bin")
    log = SessionLog(private_sshd.log_path)

    with make_ssh(server=private_sshd, root=root) as transport:
        info = transport.agent_info()
        commands = log.commands()
        sftp_sessions = log.sftp_sessions()

    assert info["python"] != "3.9.18"
    assert info["executable"] != str(venv_python)
    # The venv's start, then python3's; SFTP found that the venv exists.
    assert commands == 2
    assert sftp_sessions == 1


@pytest.mark.ssh
def test_old_configured_python_rejected(make_ssh, tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    python = old_python(tmp_path / "old-bin")

    with make_ssh(root=root, python=str(python)) as transport:
        with pytest.raises(AgentError) as caught:
            transport.run_agent("scan")

    assert caught.value.kind == "no_python"
    assert f"{python}: Python 3.9.18 is older than 3.10" in caught.value.message
    assert "python3" not in caught.value.message.split("tried: ")[1]


@pytest.mark.ssh
def test_missing_venv_named_not_found(make_ssh, tmp_path):
    root = tmp_path / "ws"
    root.mkdir()

    with make_ssh(root=root, python="/nonexistent/bin/python3") as transport:
        with pytest.raises(AgentError) as caught:
            transport.run_agent("probe")

    assert caught.value.kind == "no_python"
    assert "/nonexistent/bin/python3: not found (exit status 127)" in caught.value.message
    assert "--python PATH" in caught.value.message


@pytest.mark.ssh
def test_session_limit_at_start_is_agent_failed(make_ssh, demo_workspace):
    with make_ssh(root=demo_workspace) as warm:
        warm.run_agent("probe")
    transport = make_ssh(root=demo_workspace)
    link = transport._live_transport()
    extra = []
    while True:
        try:
            extra.append(link.open_session(timeout=10))
        except paramiko.ChannelException:
            break

    with pytest.raises(AgentError) as caught:
        transport.run_agent("scan")
    for channel in extra:
        channel.close()

    assert len(extra) > 0
    assert caught.value.kind == "agent_failed"
    assert "MaxSessions" in caught.value.message
    assert transport._live_transport() is link
