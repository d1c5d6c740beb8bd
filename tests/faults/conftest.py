"""Fixtures for the fault-injection tests: real sshd servers, a 1 GiB source file, process helpers.

Every server listens on 127.0.0.1 only. Tests that kill or stop server
processes get a server of their own, so the shared one stays healthy.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
from helpers.sshd_server import (
    ClientKeys,
    SshdServer,
    children_of,
    keygen,
    require_tools,
    start_server,
    start_server_with_options,
)

GIB = 1024 * 1024 * 1024
# Seconds between watchdog probes and the wait for their reply in the fault tests.
FAST_KEEPALIVE = 1.0
FAST_IO_TIMEOUT = 3.0


@pytest.fixture(scope="session")
def fault_keys(tmp_path_factory: pytest.TempPathFactory) -> ClientKeys:
    require_tools()
    folder = tmp_path_factory.mktemp("fault-keys")
    keys = ClientKeys(folder)
    keys.paths["ed25519"] = keygen(folder / "id_ed25519", "ed25519")
    return keys


@pytest.fixture(scope="session")
def shared_sshd(tmp_path_factory: pytest.TempPathFactory, fault_keys: ClientKeys) -> Iterator[SshdServer]:
    """A server for tests that neither kill nor stop its processes."""
    server = start_server(tmp_path_factory.mktemp("fault-sshd"), fault_keys)
    yield server
    server.stop()


@pytest.fixture
def own_sshd(tmp_path: Path, fault_keys: ClientKeys) -> Iterator[SshdServer]:
    """A server of this test's own, for tests that kill, stop or restart it."""
    server = start_server(tmp_path / "sshd", fault_keys)
    yield server
    resume_all(server)
    server.stop()


@pytest.fixture
def rekey_sshd(tmp_path: Path, fault_keys: ClientKeys) -> Iterator[SshdServer]:
    """A server that rekeys after every 32 MiB of data and at least once a second."""
    server = start_server_with_options(tmp_path / "sshd-rekey", fault_keys, ["RekeyLimit 32M 1s"])
    yield server
    server.stop()


@pytest.fixture
def data_rekey_sshd(tmp_path: Path, fault_keys: ClientKeys) -> Iterator[SshdServer]:
    """A server that rekeys after every 256 KiB of data, so the count of rekeys follows bytes, not time."""
    server = start_server_with_options(tmp_path / "sshd-data-rekey", fault_keys, ["RekeyLimit 256K"])
    yield server
    server.stop()


@pytest.fixture
def progress_every_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the download engine report progress for every block it receives, not at most every 0.1 s.

    Tests that inject a fault at a byte count from a progress callback need
    it. With the time limit, a fast machine can receive a whole file between
    two progress events, and the fault lands after the last byte.
    """
    from ppdesk.transfer import engine

    monkeypatch.setattr(engine, "PROGRESS_INTERVAL", 0.0)


# A sitecustomize module for the pod's Python: once the process has made as
# many hard links (os.link) as the hold file names, it deletes that file and
# waits there. The LoRA mover and the grid builds publish each finished file
# with os.link, so a run cannot return its result before a test kills it,
# however fast the machine is. The wait ends early when the parent process
# (the session's shell) is gone, and after HOLD_LIMIT seconds, so a process
# that no test killed does not outlive the test run.
_HOLD_HOOK = """
import os
import time

_link = os.link
_hold_file = os.environ.get("PPDESK_TEST_HOLD_FILE", "")
_links_made = 0


def _link_then_hold(*args, **kwargs):
    global _links_made
    _link(*args, **kwargs)
    _links_made += 1
    try:
        with open(_hold_file) as handle:
            hold_after = int(handle.read())
    except (OSError, ValueError):
        return
    if _links_made < hold_after:
        return
    os.remove(_hold_file)
    parent = os.getppid()
    deadline = time.monotonic() + {limit}
    while os.getppid() == parent and time.monotonic() < deadline:
        time.sleep(0.05)
    os._exit(70)


os.link = _link_then_hold
"""
# Seconds that a held pod process waits at most.
HOLD_LIMIT = 300


@dataclass
class HeldPython:
    """A pod interpreter (``python3`` from the PATH, as by default) whose agent waits after a set number of hard links."""

    interpreter: str
    hold_file: Path

    def hold_after(self, links: int) -> None:
        """Make the next agent process wait after its ``links``-th hard link, until it is killed."""
        self.hold_file.write_text(str(links))

    def release(self) -> None:
        """Let later agent processes run through, whether or not one waited."""
        self.hold_file.unlink(missing_ok=True)


@pytest.fixture
def held_python(tmp_path: Path) -> HeldPython:
    """Return a HeldPython for a profile's ``python`` field; nothing waits until hold_after is called."""
    folder = tmp_path / "held-python"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(_HOLD_HOOK.replace("{limit}", str(HOLD_LIMIT)))
    hold_file = folder / "hold-after-links"
    wrapper = folder / "held-python3"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"PYTHONPATH={shlex.quote(str(folder))} PPDESK_TEST_HOLD_FILE={shlex.quote(str(hold_file))} "
        'exec python3 "$@"\n'
    )
    wrapper.chmod(0o755)
    return HeldPython(str(wrapper), hold_file)


@dataclass
class BigFile:
    """A 1 GiB file of random bytes on the pod side and its SHA-256."""

    path: Path
    sha256: str
    size: int


@pytest.fixture(scope="session")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> BigFile:
    """Write 1 GiB of random bytes once per session (16 MiB pattern blocks, each different)."""
    folder = tmp_path_factory.mktemp("big-pod")
    path = folder / "pytorch_lora_weights.safetensors"
    digest = hashlib.sha256()
    block = os.urandom(16 * 1024 * 1024)
    with path.open("wb") as handle:
        for index in range(GIB // len(block)):
            # Each block differs, so a block written at the wrong offset changes the hash.
            chunk = index.to_bytes(8, "little") + block[8:]
            digest.update(chunk)
            handle.write(chunk)
    return BigFile(path, digest.hexdigest(), GIB)


@pytest.fixture
def make_transport(tmp_path: Path, fault_keys: ClientKeys, shared_sshd: SshdServer):
    """Return a factory of SshTransports that accept the test server's host key; all closed after the test."""
    from ppdesk.remote.hostkeys import HostKeyStore
    from ppdesk.remote.profiles import Profile
    from ppdesk.remote.ssh import SshTransport
    from ppdesk.remote.ssh_auth import SshPrompts

    opened: List[SshTransport] = []
    store = HostKeyStore(own_path=tmp_path / "known" / "own", user_path=tmp_path / "known" / "user")

    def make(root: Path, server: Optional[SshdServer] = None, host_keys=None, prompts=None,
             keepalive: float = 30.0, io_timeout: float = 60.0, **fields) -> SshTransport:
        server = server or shared_sshd
        values = {"name": "faults", "host": "127.0.0.1", "port": server.port, "user": "root", "auth": "key",
                  "key_file": str(fault_keys["ed25519"]), "root": str(root)}
        values.update(fields)
        transport = SshTransport(
            Profile(**values),
            prompts=prompts or SshPrompts(confirm_host_key=lambda info: True),
            host_keys=host_keys or store,
            connect_timeout=10.0,
            keepalive=keepalive,
            io_timeout=io_timeout,
        )
        opened.append(transport)
        return transport

    yield make
    for transport in opened:
        transport.close()


def descendants(pid: int) -> List[int]:
    """Return every process below ``pid`` (children, grandchildren...), read from /proc."""
    found: List[int] = []
    pending = [pid]
    while pending:
        for child in children_of(pending.pop()):
            found.append(child)
            pending.append(child)
    return found


def kill_sessions(server: SshdServer) -> List[int]:
    """SIGKILL every per-connection process of ``server``; return the pids killed."""
    killed = []
    for pid in server.session_pids():
        for target in [pid] + descendants(pid):
            try:
                os.kill(target, signal.SIGKILL)
                killed.append(target)
            except ProcessLookupError:
                pass
    return killed


def stop_sessions(server: SshdServer) -> List[int]:
    """SIGSTOP every per-connection process of ``server`` and their children; return the pids."""
    stopped = []
    for pid in server.session_pids():
        for target in [pid] + descendants(pid):
            try:
                os.kill(target, signal.SIGSTOP)
                stopped.append(target)
            except ProcessLookupError:
                pass
    return stopped


def resume_all(server: SshdServer) -> None:
    """SIGCONT every process of ``server``, so that stop() can end them."""
    if server.process is None:
        return
    for pid in descendants(server.master_pid):
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(4 * 1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_listing(root: Path) -> List[str]:
    """Return every path below ``root`` relative to it, sorted, symlinks not followed."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))
