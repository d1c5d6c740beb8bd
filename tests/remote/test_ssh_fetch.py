"""Streamed downloads over a real sshd: bytes, ranges, errors, cancel, resume and the SFTP fallback."""

from __future__ import annotations

import hashlib
import io
import os
import signal
from pathlib import Path

import paramiko
import pytest

from ppdesk.cancel import CancelToken, Cancelled
from ppdesk.remote import ssh_fetch
from ppdesk.remote.errors import ConnectionLost, RemoteFileError
from ppdesk.transfer.engine import download
from ppdesk.transfer.plan import PlannedFile
from ppdesk.transfer.report import FileStatus

from helpers.sshd_server import SshdServer

MIB = 1024 * 1024


def write_random(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def stream_channels(transport) -> int:
    """Count the stream channels the transport has open (idle or lent)."""
    return len(transport._streams._open)


@pytest.mark.ssh
def test_stream_whole_file_and_ranges(make_ssh, tmp_path):
    data = write_random(tmp_path / "weights.safetensors", 5 * MIB + 12345)
    with make_ssh() as transport:
        whole = io.BytesIO()
        count = transport.fetch(str(tmp_path / "weights.safetensors"), whole)
        middle = io.BytesIO()
        middle_count = transport.fetch(str(tmp_path / "weights.safetensors"), middle, offset=MIB + 7, length=2 * MIB)
        tail = io.BytesIO()
        tail_count = transport.fetch(str(tmp_path / "weights.safetensors"), tail, offset=5 * MIB, length=10 * MIB)
        channels = stream_channels(transport)
    assert count == len(data)
    assert whole.getvalue() == data
    assert middle_count == 2 * MIB
    assert middle.getvalue() == data[MIB + 7 : 3 * MIB + 7]
    assert tail_count == 12345
    assert tail.getvalue() == data[5 * MIB :]
    # Three fetches on one thread reuse one channel.
    assert channels == 1


@pytest.mark.ssh
def test_stream_empty_file(make_ssh, tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    with make_ssh() as transport:
        sink = io.BytesIO()
        count = transport.fetch(str(tmp_path / "empty.txt"), sink)
    assert count == 0
    assert sink.getvalue() == b""


@pytest.mark.ssh
def test_stream_missing_file_keeps_channel(make_ssh, tmp_path):
    data = write_random(tmp_path / "present.bin", 100_000)
    with make_ssh() as transport:
        with pytest.raises(RemoteFileError) as caught:
            transport.fetch(str(tmp_path / "absent.bin"), io.BytesIO())
        sink = io.BytesIO()
        transport.fetch(str(tmp_path / "present.bin"), sink)
        channels = stream_channels(transport)
        disabled = transport._streams_disabled
    assert "absent.bin" in str(caught.value)
    assert sink.getvalue() == data
    assert channels == 1
    assert disabled is False


@pytest.mark.ssh
def test_stream_folder_is_not_a_file(make_ssh, tmp_path):
    (tmp_path / "folder").mkdir()
    with make_ssh() as transport:
        with pytest.raises(RemoteFileError) as caught:
            transport.fetch(str(tmp_path / "folder"), io.BytesIO())
    assert "not a regular file" in str(caught.value)


@pytest.mark.ssh
def test_stream_cancel_then_fetch_again(make_ssh, tmp_path):
    data = write_random(tmp_path / "big.bin", 6 * MIB)
    cancel = CancelToken()
    with make_ssh() as transport:
        partial = io.BytesIO()
        with pytest.raises(Cancelled):
            transport.fetch(str(tmp_path / "big.bin"), partial, on_bytes=lambda count: cancel.cancel(), cancel=cancel)
        channels_after_cancel = stream_channels(transport)
        again = io.BytesIO()
        transport.fetch(str(tmp_path / "big.bin"), again)
    # Cancel is checked between frames, so exactly the first 1 MiB frame arrived.
    assert partial.getvalue() == data[:MIB]
    assert channels_after_cancel == 0
    assert again.getvalue() == data


@pytest.mark.ssh
def test_stat_after_stream_matches_file(make_ssh, tmp_path):
    path = tmp_path / "sample.png"
    write_random(path, 300_000)
    with make_ssh() as transport:
        transport.fetch(str(path), io.BytesIO())
        seen = transport.stat(str(path))
        asked = transport.stat(str(path))
    info = path.stat()
    assert seen.size == info.st_size
    assert seen.mtime == pytest.approx(info.st_mtime, abs=1e-3)
    # The second stat goes over SFTP, which has whole seconds.
    assert asked.size == info.st_size
    assert asked.mtime == pytest.approx(info.st_mtime, abs=1.0)


@pytest.mark.ssh
def test_engine_resumes_part_and_verifies(make_ssh, tmp_path):
    pod = tmp_path / "pod"
    pod.mkdir()
    data = write_random(pod / "lora.safetensors", 20 * MIB + 3)
    small = write_random(pod / "config.json", 2000)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "lora.safetensors.part").write_bytes(data[: 9 * MIB + 5])
    info = (pod / "lora.safetensors").stat()
    plan = [
        PlannedFile(str(pod / "lora.safetensors"), "lora.safetensors", len(data), info.st_mtime,
                    hashlib.sha256(data).hexdigest()),
        PlannedFile(str(pod / "config.json"), "config.json", len(small), (pod / "config.json").stat().st_mtime),
    ]
    with make_ssh() as transport:
        report = download(transport, plan, dest, jobs=2)
    assert [outcome.status for outcome in report.outcomes] == [FileStatus.DOWNLOADED, FileStatus.DOWNLOADED]
    assert report.outcomes[0].bytes == len(data) - (9 * MIB + 5)
    assert (dest / "lora.safetensors").read_bytes() == data
    assert (dest / "config.json").read_bytes() == small
    assert not (dest / "lora.safetensors.part").exists()


@pytest.mark.ssh
def test_engine_rejects_wrong_hash(make_ssh, tmp_path):
    pod = tmp_path / "pod"
    pod.mkdir()
    data = write_random(pod / "lora.safetensors", 9 * MIB)
    dest = tmp_path / "dest"
    plan = [PlannedFile(str(pod / "lora.safetensors"), "lora.safetensors", len(data),
                        (pod / "lora.safetensors").stat().st_mtime, "0" * 64)]
    with make_ssh() as transport:
        report = download(transport, plan, dest, jobs=1)
    assert report.outcomes[0].status is FileStatus.FAILED
    assert "sha256" in report.outcomes[0].message
    assert not (dest / "lora.safetensors").exists()
    assert not (dest / "lora.safetensors.part").exists()


@pytest.mark.ssh
def test_fallback_to_sftp_without_python(make_ssh, tmp_path):
    data = write_random(tmp_path / "weights.bin", 3 * MIB + 1)
    with make_ssh(python=str(tmp_path / "no-such-python")) as transport:
        sink = io.BytesIO()
        count = transport.fetch(str(tmp_path / "weights.bin"), sink, offset=10)
        disabled = transport._streams_disabled
        channels = stream_channels(transport)
    assert count == len(data) - 10
    assert sink.getvalue() == data[10:]
    assert disabled is True
    assert channels == 0


@pytest.mark.ssh
def test_round_trip_sets_window(make_ssh, tmp_path):
    write_random(tmp_path / "a.bin", 1000)
    with make_ssh() as transport:
        transport.fetch(str(tmp_path / "a.bin"), io.BytesIO())
        window = transport._window
    # A loopback reply arrives within a millisecond, so the window is the minimum.
    assert window == ssh_fetch.STREAM_WINDOW_MIN


def test_window_for_round_trip_limits():
    assert ssh_fetch.window_for_round_trip(0.0) == ssh_fetch.STREAM_WINDOW_MIN
    assert ssh_fetch.window_for_round_trip(0.020) == 6_000_000
    assert ssh_fetch.window_for_round_trip(1.0) == ssh_fetch.STREAM_WINDOW_MAX


def kill_agents(server: SshdServer, spare: int = 0) -> int:
    """SIGKILL every agent process but ``spare`` whose command line names a bundle in ``server``'s pod cache; return the count."""
    killed = 0
    marker = str(server.bundle_cache).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            command = Path("/proc", entry, "cmdline").read_bytes()
        except OSError:
            continue
        if marker in command and b"ppdesk-core" in command and int(entry) != spare:
            try:
                os.kill(int(entry), signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    return killed


@pytest.mark.ssh
def test_killed_agent_falls_back_to_sftp(make_ssh, sshd, tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    data = write_random(tmp_path / "big.bin", 48 * MIB)
    killed = []

    def kill_once(count: int) -> None:
        if not killed:
            # The persistent agent that ran the probe stays; only the stream process dies.
            killed.append(kill_agents(sshd, spare=transport.agent_info()["pid"]))

    with make_ssh(root=workspace) as transport:
        sink = io.BytesIO()
        with pytest.raises(ConnectionLost):
            transport.fetch(str(tmp_path / "big.bin"), sink, on_bytes=kill_once)
        received = len(sink.getvalue())
        disabled = transport._streams_disabled
        resumed = transport.fetch(str(tmp_path / "big.bin"), sink, offset=received)
    assert killed == [1]
    assert 0 < received < len(data)
    assert disabled is True
    assert resumed == len(data) - received
    assert sink.getvalue() == data


@pytest.mark.ssh
def test_session_limit_falls_back_to_sftp(make_ssh, tmp_path):
    data = write_random(tmp_path / "w.bin", 2 * MIB)
    with make_ssh() as transport:
        transport.run_agent("probe")
        # The stat leaves one SFTP client in the pool, which the fallback then uses.
        transport.stat(str(tmp_path / "w.bin"))
        link = transport._live_transport()
        # Fill the server's MaxSessions with idle channels.
        extra = []
        while True:
            try:
                extra.append(link.open_session(timeout=10))
            except paramiko.ChannelException:
                break
        sink = io.BytesIO()
        count = transport.fetch(str(tmp_path / "w.bin"), sink)
        same_link = transport._live_transport() is link
        disabled = transport._streams_disabled
        for channel in extra:
            channel.close()
    assert len(extra) > 0
    assert count == len(data)
    assert sink.getvalue() == data
    assert same_link is True
    assert disabled is False


@pytest.mark.ssh
def test_engine_cancel_keeps_part_for_resume(make_ssh, tmp_path, progress_every_block):
    pod = tmp_path / "pod"
    pod.mkdir()
    data = write_random(pod / "lora.safetensors", 24 * MIB)
    info = (pod / "lora.safetensors").stat()
    plan = [PlannedFile(str(pod / "lora.safetensors"), "lora.safetensors", len(data), info.st_mtime,
                        hashlib.sha256(data).hexdigest())]
    dest = tmp_path / "dest"
    cancel = CancelToken()

    def cancel_after_some(progress) -> None:
        # The first progress event after the start comes with the first frame.
        if progress.file_done > 0:
            cancel.cancel()

    with make_ssh() as transport:
        first = download(transport, plan, dest, jobs=1, on_progress=cancel_after_some, cancel=cancel)
        part = (dest / "lora.safetensors.part").read_bytes()
        second = download(transport, plan, dest, jobs=1)
    assert first.outcomes[0].status is FileStatus.CANCELLED
    assert MIB <= len(part) < len(data)
    # Every received byte reached the part, in order, before the cancel returned.
    assert part == data[: len(part)]
    assert second.outcomes[0].status is FileStatus.DOWNLOADED
    assert second.outcomes[0].bytes == len(data) - len(part)
    assert (dest / "lora.safetensors").read_bytes() == data
    assert not (dest / "lora.safetensors.part").exists()
