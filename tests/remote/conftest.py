"""Fixtures for the SSH transport tests: sshd, client keys, ssh-agent, transports."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest
from helpers.sshd_server import PASSPHRASE, STARTUP_LIMIT, ClientKeys, SshdServer, keygen, require_tools, start_server

@pytest.fixture(scope="session")
def client_keys(tmp_path_factory: pytest.TempPathFactory) -> ClientKeys:
    """ed25519 (plain and with PASSPHRASE), RSA, ECDSA, and one key the server does not know."""
    require_tools()
    folder = tmp_path_factory.mktemp("client-keys")
    keys = ClientKeys(folder)
    keys.paths["ed25519"] = keygen(folder / "id_ed25519", "ed25519")
    keys.paths["ed25519_passphrase"] = keygen(folder / "id_ed25519_passphrase", "ed25519", PASSPHRASE)
    keys.paths["rsa"] = keygen(folder / "id_rsa", "rsa", bits=2048)
    keys.paths["ecdsa"] = keygen(folder / "id_ecdsa", "ecdsa")
    keys.paths["rejected"] = keygen(folder / "id_rejected", "ed25519")
    return keys


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory, client_keys: ClientKeys) -> Iterator[SshdServer]:
    """The shared server for tests that do not restart or kill it."""
    server = start_server(tmp_path_factory.mktemp("sshd"), client_keys)
    yield server
    server.stop()


@pytest.fixture
def private_sshd(tmp_path: Path, client_keys: ClientKeys) -> Iterator[SshdServer]:
    """A server of this test's own, for tests that restart it or kill its processes."""
    server = start_server(tmp_path / "sshd", client_keys)
    yield server
    server.stop()


@pytest.fixture
def ssh_agent(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """Start a real ssh-agent, point SSH_AUTH_SOCK at it, and return a function that runs ssh-add."""
    socket_path = tmp_path / "agent.sock"
    process = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + STARTUP_LIMIT
    while not socket_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"ssh-agent did not create {socket_path}: {process.stderr.read().decode(errors='replace') if process.stderr else ''}")
        time.sleep(0.05)
    previous = os.environ.get("SSH_AUTH_SOCK")
    os.environ["SSH_AUTH_SOCK"] = str(socket_path)

    def add(key: Path) -> None:
        subprocess.run(["ssh-add", str(key)], check=True, capture_output=True, env=dict(os.environ))

    try:
        yield add
    finally:
        if previous is None:
            os.environ.pop("SSH_AUTH_SOCK", None)
        else:
            os.environ["SSH_AUTH_SOCK"] = previous
        process.terminate()
        process.wait(10)


@pytest.fixture
def progress_every_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the download engine report progress for every block it receives, not at most every 0.1 s.

    Tests that act at a byte count from a progress callback need it. With
    the time limit, a fast machine can receive a whole file between two
    progress events, and the action lands after the last byte.
    """
    from ppdesk.transfer import engine

    monkeypatch.setattr(engine, "PROGRESS_INTERVAL", 0.0)


@pytest.fixture
def known_hosts(tmp_path: Path) -> "HostKeyStore":
    """A host key store with ppdesk's file and an (empty) OpenSSH file in tmp_path."""
    from ppdesk.remote.hostkeys import HostKeyStore

    return HostKeyStore(own_path=tmp_path / "config" / "known_hosts", user_path=tmp_path / "dot-ssh" / "known_hosts")


@pytest.fixture
def demo_workspace(tmp_path: Path) -> Path:
    """The generated demo workspace, written into tmp_path."""
    from ppdesk.demo import build_demo_workspace

    return build_demo_workspace(tmp_path / "workspace")


@pytest.fixture
def make_ssh(tmp_path: Path, sshd: SshdServer, client_keys: ClientKeys, known_hosts):
    """Return a factory of SshTransports to ``sshd``; every transport is closed after the test.

    Keyword arguments: ``key`` (a client_keys name), ``root`` (the workspace,
    default an empty folder in tmp_path), ``server``, ``prompts`` (default:
    accept every host key), ``host_keys``, and any Profile field.
    """
    from ppdesk.remote.profiles import Profile
    from ppdesk.remote.ssh import SshTransport
    from ppdesk.remote.ssh_auth import SshPrompts

    opened = []
    default_root = tmp_path / "empty-workspace"
    default_root.mkdir()

    def make(key: str = "ed25519", root: Optional[Path] = None, server: Optional[SshdServer] = None,
             prompts: Optional[SshPrompts] = None, host_keys=None, **fields) -> SshTransport:
        server = server or sshd
        values = {"name": "test", "host": "127.0.0.1", "port": server.port, "user": "root", "auth": "key",
                  "key_file": str(client_keys[key]), "root": str(root or default_root)}
        values.update(fields)
        transport = SshTransport(
            Profile(**values),
            prompts=prompts or SshPrompts(confirm_host_key=lambda info: True),
            host_keys=host_keys or known_hosts,
            connect_timeout=10.0,
        )
        opened.append(transport)
        return transport

    yield make
    for transport in opened:
        transport.close()
