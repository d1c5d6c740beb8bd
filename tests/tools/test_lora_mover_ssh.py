"""The lm tool through SshTransport against a real sshd on 127.0.0.1."""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import termios
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
from helpers import sshd_server
from lora_helpers import (
    CONFIG,
    WAIT_LIMIT,
    build_large_workspace,
    check_byte_progress,
    lora_folder,
    run_mover,
    sha256_of,
    sources,
    wait_for_exit,
)

from ppdesk.cancel import CancelToken
from ppdesk.demo import build_demo_workspace
from ppdesk.remote.hostkeys import HostKeyStore
from ppdesk.remote.profiles import Profile
from ppdesk.remote.ssh import SshTransport
from ppdesk.remote.ssh_auth import SshPrompts
from ppdesk.tools.base import ProgressEvent, Status, ToolContext, ToolResult
from ppdesk.tools.lora_mover import LoraMover
from ppdesk.tools.workspace import scan_workspace

pytestmark = pytest.mark.ssh


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[sshd_server.SshdServer, Path]]:
    """An sshd on 127.0.0.1 and the client key it accepts."""
    sshd_server.require_tools()
    folder = tmp_path_factory.mktemp("mover-keys")
    keys = sshd_server.ClientKeys(folder)
    keys.paths["ed25519"] = sshd_server.keygen(folder / "id_ed25519", "ed25519")
    server = sshd_server.start_server(tmp_path_factory.mktemp("mover-sshd"), keys)
    yield server, keys["ed25519"]
    server.stop()


@pytest.fixture
def connect(ssh_server, tmp_path: Path) -> Iterator:
    """Return a function that opens an SshTransport to the workspace at ``root``, closed after the test."""
    server, key = ssh_server
    opened: List[SshTransport] = []

    def open_transport(root: Path) -> SshTransport:
        profile = Profile(name="test", host="127.0.0.1", port=server.port, user="root", auth="key", key_file=str(key), root=str(root))
        transport = SshTransport(
            profile,
            prompts=SshPrompts(confirm_host_key=lambda info: True),
            host_keys=HostKeyStore(own_path=tmp_path / "known_hosts", user_path=tmp_path / "user_known_hosts"),
            connect_timeout=10.0,
        )
        opened.append(transport)
        return transport

    yield open_transport
    for transport in opened:
        transport.close()


def unread_stdin_bytes(pid: int) -> int:
    """Return how many bytes wait unread in the stdin pipe of process ``pid``."""
    descriptor = os.open(f"/proc/{pid}/fd/0", os.O_RDONLY | os.O_NONBLOCK)
    try:
        return struct.unpack("i", fcntl.ioctl(descriptor, termios.FIONREAD, b"\0\0\0\0"))[0]
    finally:
        os.close(descriptor)


def test_large_copy_reports_bytes(connect, tmp_path: Path):
    root = build_large_workspace(tmp_path / "ws")
    events: List[ProgressEvent] = []

    result = run_mover(connect(root), tmp_path / "dest", events.append)

    assert result.status is Status.OK
    check_byte_progress(events, root)
    copied = lora_folder(root) / "sofia_001_lr1e-4-00100.safetensors"
    assert sha256_of(copied) == sha256_of(sources(root)[0])


def test_pod_copy_stops_when_client_gone(connect, tmp_path: Path):
    root = build_large_workspace(tmp_path / "ws")
    transport = connect(root)
    # The scan starts the persistent agent that later runs the mover's request.
    [config] = scan_workspace(transport).select(None, CONFIG)
    agent = transport.run_agent("probe")["pid"]
    cancel = CancelToken()
    ctx = ToolContext(transport=transport, dest=tmp_path / "dest", cancel=cancel)
    outcome: Dict[str, ToolResult] = {}

    # The stopped agent cannot start the copy before the cancel, and once
    # it continues, its first chunk's progress line meets the closed
    # channel, whatever the speed of this machine.
    os.kill(agent, signal.SIGSTOP)
    try:
        worker = threading.Thread(target=lambda: outcome.update(result=LoraMover(progress_interval=0).run(ctx, config)))
        worker.start()
        deadline = time.monotonic() + WAIT_LIMIT
        while unread_stdin_bytes(agent) == 0:
            if time.monotonic() > deadline:
                pytest.fail("the mover request never reached the agent")
            time.sleep(0.02)
        cancel.cancel()
        worker.join(WAIT_LIMIT)
        assert not worker.is_alive()
    finally:
        os.kill(agent, signal.SIGCONT)
    wait_for_exit(agent)
    folder = lora_folder(root)

    assert outcome["result"].status is Status.CANCELLED
    # The folder exists, so the agent reached the copy, and nothing is in it.
    assert folder.is_dir()
    assert list(folder.iterdir()) == []


def test_conflict_and_rerun(connect, tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    folder = lora_folder(root)
    folder.mkdir(parents=True)
    planted = folder / "sofia_001_lr1e-4-final.safetensors"
    planted.write_bytes(b"someone else's LoRA")
    transport = connect(root)

    first = run_mover(transport, tmp_path / "dest")
    second = run_mover(transport, tmp_path / "dest")

    assert first.status is Status.WARNING
    assert first.message == (
        f"3 files copied, 0 already present, 1 conflict left unchanged: sofia_001_lr1e-4-final.safetensors in {folder}"
    )
    assert [item["dest"] for item in first.details["conflicts"]] == [str(planted)]
    assert planted.read_bytes() == b"someone else's LoRA"
    for source, name in zip(sources(root)[:3], ("00100", "00200", "00300")):
        assert (folder / f"{CONFIG}-{name}.safetensors").read_bytes() == source.read_bytes()
    assert second.status is Status.WARNING
    assert second.details["copied"] == []
    assert second.details["skipped"] == first.details["copied"]
