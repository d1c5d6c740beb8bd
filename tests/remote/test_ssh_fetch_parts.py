"""The pieces of the fast fetch path: the agent's stream op, the channel buffer, the stream parser, the writer."""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from paramiko.buffered_pipe import PipeTimeout

from ppdesk.core.agent import _read_request
from ppdesk.remote.channel_buffer import ChunkBuffer
from ppdesk.remote.errors import RemoteFileError
from ppdesk.remote.ssh_fetch import StreamBroken, StreamChannel
from ppdesk.transfer.writer import BackgroundWriter

REPO = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


def run_stream_agent(requests: list, tmp_path: Path) -> bytes:
    """Run ``python -m ppdesk.core`` with a stream_files request and range requests; return its stdout."""
    first = json.dumps({"op": "stream_files", "layout": {"root": str(tmp_path)}, "args": {}})
    lines = [first] + [json.dumps(request) for request in requests]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "ppdesk.core"], input=("\n".join(lines) + "\n").encode(),
                          capture_output=True, env=env, cwd=str(REPO))
    return done.stdout


class FakeChannel:
    """The slice of paramiko.Channel that StreamChannel uses, fed from a byte string."""

    def __init__(self, incoming: bytes) -> None:
        self.buffer = ChunkBuffer()
        for start in range(0, len(incoming), 30000):
            self.buffer.feed(incoming[start : start + 30000])
        self.buffer.close()
        self.sent = b""
        self.closed = False
        self.timeout = 1.0

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def recv(self, limit: int) -> bytes:
        return self.buffer.read(limit, self.timeout)

    def gettimeout(self) -> float:
        return self.timeout

    def settimeout(self, seconds: float) -> None:
        self.timeout = seconds

    def recv_stderr_ready(self) -> bool:
        return False


def parse(stdout: bytes, tmp_path: Path, path: Path, offset: int = 0, length=None) -> bytes:
    channel = FakeChannel(stdout)
    stream = StreamChannel(channel, channel.buffer)  # type: ignore[arg-type]
    sink = io.BytesIO()
    stream.fetch(str(path), sink, offset, length, None, None)
    return sink.getvalue()


def test_agent_streams_ranges_in_frames(tmp_path):
    data = os.urandom(2 * MIB + 100)
    (tmp_path / "w.bin").write_bytes(data)
    out = run_stream_agent([{"path": str(tmp_path / "w.bin"), "offset": 0, "length": None},
                            {"path": str(tmp_path / "w.bin"), "offset": 5, "length": 10}], tmp_path)
    header, rest = out.split(b"\n", 1)
    assert json.loads(header)["size"] == len(data)
    # Frames of 1 MiB, 1 MiB and 100 bytes, then the end frame.
    sizes = []
    position = 0
    while True:
        size = struct.unpack(">I", rest[position : position + 4])[0]
        position += 4 + size
        if size == 0:
            break
        sizes.append(size)
    assert sizes == [MIB, MIB, 100]
    trailer, rest = rest[position:].split(b"\n", 1)
    assert json.loads(trailer)["bytes"] == len(data)
    assert json.loads(trailer)["error"] is None
    assert rest.splitlines()[-1] == b'{"type": "result", "data": {"served": 2}}'


def test_stream_parser_reads_agent_output(tmp_path):
    data = os.urandom(3 * MIB + 7)
    path = tmp_path / "w.bin"
    path.write_bytes(data)
    out = run_stream_agent([{"path": str(path), "offset": 1000, "length": 2 * MIB}], tmp_path)
    assert parse(out, tmp_path, path, 1000, 2 * MIB) == data[1000 : 1000 + 2 * MIB]


def test_stream_parser_missing_file(tmp_path):
    out = run_stream_agent([{"path": str(tmp_path / "absent")}], tmp_path)
    with pytest.raises(RemoteFileError) as caught:
        parse(out, tmp_path, tmp_path / "absent")
    assert "no such file" in str(caught.value)


def test_stream_parser_rejects_truncated_stream(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(os.urandom(MIB))
    out = run_stream_agent([{"path": str(path)}], tmp_path)
    with pytest.raises(StreamBroken):
        parse(out[: len(out) // 2], tmp_path, path)


def test_stream_parser_rejects_huge_frame(tmp_path):
    forged = b'{"type": "file", "size": 1, "mtime": 0}\n' + struct.pack(">I", 1 << 31)
    with pytest.raises(StreamBroken) as caught:
        parse(forged, tmp_path, tmp_path / "x")
    assert "frame" in str(caught.value)


def test_agent_rejects_bad_range(tmp_path):
    out = run_stream_agent([{"path": str(tmp_path), "offset": -1}], tmp_path)
    final = json.loads(out.splitlines()[-1])
    assert final["type"] == "error"
    assert final["kind"] == "invalid_request"


def test_fifo_is_not_streamed(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    out = run_stream_agent([{"path": str(fifo)}], tmp_path)
    header = json.loads(out.split(b"\n", 1)[0])
    assert header["type"] == "file_error"
    assert header["message"] == "not a regular file"


def test_read_request_first_line_or_all():
    assert _read_request(io.BytesIO(b'{"op": "scan"}\n{"path": "x"}\n')) == b'{"op": "scan"}\n'
    assert _read_request(io.BytesIO(b'{"op":\n "scan"}')) == b'{"op":\n "scan"}'
    assert _read_request(io.BytesIO(b"")) == b""


def test_chunk_buffer_reads_across_chunks():
    buffer = ChunkBuffer()
    buffer.feed(b"abc")
    buffer.feed(b"defg")
    assert len(buffer) == 7
    assert buffer.read(5) == b"abcde"
    assert buffer.read(100) == b"fg"
    assert buffer.read_ready() is False


def test_chunk_buffer_timeout_and_close():
    buffer = ChunkBuffer()
    with pytest.raises(PipeTimeout):
        buffer.read(10, 0.05)
    with pytest.raises(PipeTimeout):
        buffer.wait_for(10, 0.05)
    buffer.feed(b"xy")
    buffer.close()
    buffer.wait_for(10, 0.05)
    assert buffer.read(10) == b"xy"
    assert buffer.read(10) == b""


def test_chunk_buffer_wait_for_wakes_at_count():
    buffer = ChunkBuffer()
    woke = threading.Event()

    def reader() -> None:
        buffer.wait_for(100, 5.0)
        woke.set()

    thread = threading.Thread(target=reader)
    thread.start()
    buffer.feed(b"x" * 60)
    assert not woke.wait(0.1)
    buffer.feed(b"x" * 40)
    thread.join(5.0)
    assert woke.is_set()
    assert buffer.empty() == b"x" * 100


def test_chunk_buffer_event_follows_data():
    buffer = ChunkBuffer()
    event = threading.Event()
    buffer.set_event(event)
    assert not event.is_set()
    buffer.feed(b"a")
    assert event.is_set()
    buffer.read(1)
    assert not event.is_set()


def test_background_writer_writes_and_hashes(tmp_path):
    digest = hashlib.sha256()
    pieces = [os.urandom(100_000) for _ in range(50)]
    with open(tmp_path / "out.bin", "wb") as handle:
        writer = BackgroundWriter(handle, digest, "test")
        for piece in pieces:
            writer.write(piece)
        writer.close()
    expected = b"".join(pieces)
    assert (tmp_path / "out.bin").read_bytes() == expected
    assert digest.hexdigest() == hashlib.sha256(expected).hexdigest()


def test_background_writer_reports_write_error():
    class Full(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data) -> int:
            raise OSError(28, "No space left on device")

    writer = BackgroundWriter(Full(), None, "full")  # type: ignore[arg-type]
    writer.write(b"abc")
    with pytest.raises(OSError) as caught:
        writer.close()
    assert caught.value.errno == 28
