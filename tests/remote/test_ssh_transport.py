"""SshTransport against a real sshd: agent runs, bundle cache, fetch, hostile names, lost links."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sys
import uuid
from pathlib import Path

import paramiko
import pytest

from ppdesk.cancel import CancelToken, Cancelled
from ppdesk.remote.errors import AgentError, ConnectionLost, RemoteFileError
from ppdesk.remote.local import LocalTransport


def bundle_listing(server):
    cache = server.bundle_cache
    return sorted((path.name, path.stat().st_size, path.stat().st_mtime_ns) for path in cache.iterdir())


@pytest.mark.ssh
def test_scan_equals_local_scan(make_ssh, demo_workspace):
    local = LocalTransport.for_root(demo_workspace).run_agent("scan")
    with make_ssh(root=demo_workspace) as transport:
        remote = transport.run_agent("scan")
    assert remote == local
    assert len(remote["configs"]) == len(local["configs"]) > 0


@pytest.mark.ssh
def test_second_connect_skips_upload(make_ssh, sshd, demo_workspace):
    with make_ssh(root=demo_workspace) as first:
        first.run_agent("probe")
    listing = bundle_listing(sshd)
    assert len(listing) == 1
    assert listing[0][0].startswith("ppdesk-core-")
    assert listing[0][0].endswith(".pyz")

    with make_ssh(root=demo_workspace) as second:
        second.run_agent("scan")
    assert bundle_listing(sshd) == listing
    assert not (demo_workspace / ".ppdesk").exists()


@pytest.mark.ssh
def test_venv_python_preferred(make_ssh, tmp_path):
    root = tmp_path / "ws"
    venv_bin = root / "SimpleTuner" / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(sys.executable)
    with make_ssh(root=root) as transport:
        info = transport.agent_info()
    assert info["executable"] == str(venv_bin / "python")


@pytest.mark.ssh
def test_missing_python_names_each_tried(make_ssh, tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    with make_ssh(root=root, python="/nonexistent/bin/python3") as transport:
        with pytest.raises(AgentError) as caught:
            transport.run_agent("scan")
    assert caught.value.kind == "no_python"
    assert "/nonexistent/bin/python3" in caught.value.message


@pytest.mark.ssh
def test_agent_error_kind(make_ssh, demo_workspace):
    with make_ssh(root=demo_workspace) as transport:
        with pytest.raises(AgentError) as caught:
            transport.run_agent("no_such_op")
    assert caught.value.kind == "invalid_request"


@pytest.mark.ssh
def test_fetch_whole_file_and_range(make_ssh, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 12345)
    source = tmp_path / "weights.safetensors"
    source.write_bytes(data)
    with make_ssh() as transport:
        whole = io.BytesIO()
        counted = []
        assert transport.fetch(str(source), whole, on_bytes=counted.append) == len(data)
        part = io.BytesIO()
        assert transport.fetch(str(source), part, offset=1_000_000, length=2_000_000) == 2_000_000
        assert transport.stat(str(source)).size == len(data)
    assert whole.getvalue() == data
    assert sum(counted) == len(data)
    assert part.getvalue() == data[1_000_000:3_000_000]


@pytest.mark.ssh
def test_fetch_missing_file(make_ssh, tmp_path):
    with make_ssh() as transport:
        with pytest.raises(RemoteFileError) as caught:
            transport.fetch(str(tmp_path / "missing.bin"), io.BytesIO())
        assert "missing.bin" in str(caught.value)
        with pytest.raises(RemoteFileError):
            transport.stat(str(tmp_path / "missing.bin"))


@pytest.mark.ssh
def test_fetch_cancel_between_blocks(make_ssh, tmp_path):
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(6 * 1024 * 1024))
    cancel = CancelToken()
    with make_ssh() as transport:
        sink = io.BytesIO()
        with pytest.raises(Cancelled):
            transport.fetch(str(source), sink, on_bytes=lambda count: cancel.cancel(), cancel=cancel)
        assert len(sink.getvalue()) == 1024 * 1024
        again = io.BytesIO()
        transport.fetch(str(source), again)
    assert again.getvalue() == source.read_bytes()


# Config names are folder names, so "/" appears only as the nesting separator.
# "cd ..;cd ..;cd tmp" reaches /tmp from the login folder without a slash. Any command that ran would leave a file named after the canary.
_TO_TMP = "cd ..;cd ..;cd tmp;"
HOSTILE_TEMPLATES = [
    "with space",
    "single'quote",
    'double"quote',
    "semi;" + _TO_TMP + "touch {canary}-semi",
    "$(" + _TO_TMP + "touch {canary}-dollar)",
    "`" + _TO_TMP + "touch {canary}-backtick`",
    "new\nline;" + _TO_TMP + "touch {canary}-newline",
    "ünïcødé-名前",
    "pipe|" + _TO_TMP + "touch {canary}-pipe &",
    "nested $(" + _TO_TMP + "touch {canary}-nested)/child'; " + _TO_TMP + "touch {canary}-child",
]


@pytest.mark.ssh
def test_hostile_names_scan_and_fetch(make_ssh, demo_workspace):
    canary = f"ppdesk-canary-{uuid.uuid4().hex}"
    config_dir = demo_workspace / "SimpleTuner" / "config"
    template = config_dir / "sofia_001_lr1e-4"
    names = [pattern.format(canary=canary) for pattern in HOSTILE_TEMPLATES]
    for name in names:
        shutil.copytree(template, config_dir / name)

    with make_ssh(root=demo_workspace) as transport:
        scan = transport.run_agent("scan")
        scanned = {config["name"] for config in scan["configs"]}
        plans = {name: transport.run_agent("plan_download", {"config": name, "kind": "config"}) for name in names}
        fetched = {}
        for name, plan in plans.items():
            first = plan["files"][0]
            sink = io.BytesIO()
            transport.fetch(first["path"], sink)
            fetched[name] = (first, sink.getvalue())

    for name in names:
        assert name in scanned
        first, content = fetched[name]
        assert content == Path(first["path"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == hashlib.sha256((config_dir / name / first["rel"]).read_bytes()).hexdigest()
    leftovers = [entry for entry in os.listdir("/tmp") if entry.startswith(canary)]
    assert leftovers == []


class TrustTestServer(paramiko.MissingHostKeyPolicy):
    """Accepts the key of the test's own sshd on 127.0.0.1 without a prompt."""

    def missing_host_key(self, client, hostname, key) -> None:
        return None


@pytest.mark.ssh
def test_canary_detects_injection(sshd, client_keys):
    """The canary works: pasting a hostile name into a shell command does create the file."""
    canary = f"ppdesk-canary-{uuid.uuid4().hex}"
    name = HOSTILE_TEMPLATES[3].format(canary=canary)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(TrustTestServer())
    try:
        client.connect("127.0.0.1", sshd.port, "root", key_filename=str(client_keys["ed25519"]),
                       allow_agent=False, look_for_keys=False, timeout=10)
        _, stdout, _ = client.exec_command(f"echo {name}")
        stdout.channel.recv_exit_status()
    finally:
        client.close()
    created = Path("/tmp", f"{canary}-semi")
    assert created.exists()
    created.unlink()


@pytest.mark.ssh
def test_killed_session_reconnects_lazily(make_ssh, private_sshd, tmp_path):
    # More than a stream window (16 MiB at most) plus socket buffers, so a
    # kill after the first block leaves most of the file unsent.
    data = os.urandom(64 * 1024 * 1024)
    source = tmp_path / "file.bin"
    source.write_bytes(data)
    transport = make_ssh(server=private_sshd)
    transport.connect()
    sessions = private_sshd.session_pids()
    killed = []

    def kill_once(count: int) -> None:
        # The fetch is under way on the old link, so it cannot finish there.
        # A call that starts after paramiko saw the loss would reconnect
        # without an error, so killing before a call would race with it.
        if not killed:
            for pid in sessions:
                os.kill(pid, 9)
            killed.extend(sessions)

    with pytest.raises(ConnectionLost) as caught:
        transport.fetch(str(source), io.BytesIO(), on_bytes=kill_once)
    assert str(caught.value).startswith("connection lost")

    # The next calls open a new connection.
    assert transport.stat(str(source)).size == len(data)
    sink = io.BytesIO()
    transport.fetch(str(source), sink)
    assert sink.getvalue() == data
    assert killed
    assert [pid for pid in private_sshd.session_pids() if pid not in killed]
