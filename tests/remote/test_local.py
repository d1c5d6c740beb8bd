"""LocalTransport against real files and a real agent subprocess."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from ppdesk.cancel import Cancelled, CancelToken
from ppdesk.remote.errors import AgentError, RemoteFileError
from ppdesk.remote.local import FETCH_CHUNK, LocalTransport


@pytest.fixture
def transport(tmp_path: Path) -> LocalTransport:
    return LocalTransport.for_root(tmp_path)


def test_describe_names_root(transport: LocalTransport, tmp_path: Path):
    assert transport.describe() == f"local:{tmp_path}"


def test_for_root_uses_default_layout(tmp_path: Path):
    layout = LocalTransport.for_root(tmp_path).layout
    assert layout.root == str(tmp_path)
    assert layout.config_dir == f"{tmp_path}/SimpleTuner/config"


def test_probe_runs_real_agent(transport: LocalTransport):
    data = transport.run_agent("probe")
    assert data["protocol"] == 1
    assert data["python"].count(".") == 2


def test_probe_works_from_another_cwd(transport: LocalTransport, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    assert transport.run_agent("probe")["protocol"] == 1


def test_unknown_op_is_agent_error(transport: LocalTransport):
    with pytest.raises(AgentError) as info:
        transport.run_agent("no_such_op")
    assert info.value.kind == "invalid_request"
    assert "no_such_op" in info.value.message


def test_hash_files_keeps_undecodable_names(transport: LocalTransport, tmp_path: Path):
    raw = os.fsencode(tmp_path) + b"/weights-\xff\xfe.safetensors"
    with open(raw, "wb") as handle:
        handle.write(b"abc")
    name = os.fsdecode(raw)
    data = transport.run_agent("hash_files", {"paths": [name]})
    assert data == {name: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}


def test_stat_returns_size_and_mtime(transport: LocalTransport, tmp_path: Path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"12345")
    os.utime(path, (1_600_000_000.5, 1_600_000_000.5))
    st = transport.stat(str(path))
    assert st.size == 5
    assert st.mtime == 1_600_000_000.5


def test_stat_missing_raises_remote_file_error(transport: LocalTransport, tmp_path: Path):
    with pytest.raises(RemoteFileError) as info:
        transport.stat(str(tmp_path / "missing"))
    assert "missing" in str(info.value)


def test_fetch_range_and_chunks(transport: LocalTransport, tmp_path: Path):
    data = os.urandom(FETCH_CHUNK * 2 + 123)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    chunks = []
    dest = io.BytesIO()
    count = transport.fetch(str(path), dest, offset=10, length=FETCH_CHUNK + 5, on_bytes=chunks.append)
    assert count == FETCH_CHUNK + 5
    assert dest.getvalue() == data[10 : 10 + FETCH_CHUNK + 5]
    assert chunks == [FETCH_CHUNK, 5]


def test_fetch_to_end_of_file(transport: LocalTransport, tmp_path: Path):
    path = tmp_path / "small.txt"
    path.write_bytes(b"hello world")
    dest = io.BytesIO()
    assert transport.fetch(str(path), dest, offset=6) == 5
    assert dest.getvalue() == b"world"


def test_fetch_cancelled_before_first_chunk(transport: LocalTransport, tmp_path: Path):
    path = tmp_path / "small.txt"
    path.write_bytes(b"hello")
    token = CancelToken()
    token.cancel()
    dest = io.BytesIO()
    with pytest.raises(Cancelled):
        transport.fetch(str(path), dest, cancel=token)
    assert dest.getvalue() == b""


def test_fetch_missing_raises_remote_file_error(transport: LocalTransport, tmp_path: Path):
    with pytest.raises(RemoteFileError):
        transport.fetch(str(tmp_path / "missing"), io.BytesIO())


def test_context_manager_and_double_close(transport: LocalTransport):
    with transport as opened:
        assert opened is transport
    transport.close()


def test_missing_python_is_no_python(tmp_path: Path):
    transport = LocalTransport.for_root(tmp_path, python=str(tmp_path / "no-python"))
    with pytest.raises(AgentError) as info:
        transport.run_agent("probe")
    assert info.value.kind == "no_python"


def test_python_setting_is_used(tmp_path: Path):
    transport = LocalTransport.for_root(tmp_path, python=sys.executable)
    assert transport.run_agent("probe")["executable"] == sys.executable
