"""Channel windows over a real sshd: SFTP and stream channels get the window sized from the round trip.

On loopback the measured round trip gives the minimum window, which equals
paramiko's default, so these tests replace the sizing function to see that
the size reaches the channel.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from ppdesk.remote import ssh, ssh_fetch
from ppdesk.transfer.engine import download
from ppdesk.transfer.plan import PlannedFile
from ppdesk.transfer.report import FileStatus

MIB = 1024 * 1024
# A window that no paramiko default has, so a test can check that it was requested.
TEST_WINDOW = 7 * MIB


@pytest.fixture
def sized_window(monkeypatch) -> int:
    monkeypatch.setattr(ssh, "window_for_round_trip", lambda seconds: TEST_WINDOW)
    return TEST_WINDOW


def write_random(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def planned(path: Path, data: bytes, sha256: str) -> PlannedFile:
    return PlannedFile(str(path), path.name, len(data), path.stat().st_mtime, sha256)


@pytest.mark.ssh
def test_sftp_channel_gets_sized_window(make_ssh, tmp_path, sized_window):
    write_random(tmp_path / "a.bin", 1000)
    with make_ssh() as transport:
        transport.stat(str(tmp_path / "a.bin"))
        windows = [client.get_channel().in_window_size for client in transport._sftp_clients]
    assert windows == [sized_window]


@pytest.mark.ssh
def test_stream_channel_gets_same_window(make_ssh, tmp_path, sized_window):
    write_random(tmp_path / "a.bin", 1000)
    with make_ssh() as transport:
        transport.fetch(str(tmp_path / "a.bin"), io.BytesIO())
        windows = [channel._channel.in_window_size for channel in transport._streams._open]
    assert windows == [sized_window]


@pytest.mark.ssh
def test_loopback_window_is_minimum(make_ssh, tmp_path):
    write_random(tmp_path / "a.bin", 1000)
    with make_ssh() as transport:
        transport.stat(str(tmp_path / "a.bin"))
        window = transport._window
        sftp_window = transport._sftp_clients[0].get_channel().in_window_size
    # A loopback reply arrives within a millisecond, so the window is the minimum.
    assert window == ssh_fetch.STREAM_WINDOW_MIN
    assert sftp_window == ssh_fetch.STREAM_WINDOW_MIN


@pytest.mark.ssh
def test_sftp_fallback_download_verifies(make_ssh, tmp_path, monkeypatch):
    monkeypatch.setattr(ssh, "window_for_round_trip", lambda seconds: ssh_fetch.STREAM_WINDOW_MAX)
    pod = tmp_path / "pod"
    pod.mkdir()
    data = write_random(pod / "lora.safetensors", 21 * MIB + 5)
    plan = [planned(pod / "lora.safetensors", data, hashlib.sha256(data).hexdigest())]
    dest = tmp_path / "dest"

    with make_ssh(python=str(tmp_path / "no-such-python")) as transport:
        report = download(transport, plan, dest, jobs=1)
        disabled = transport._streams_disabled
        sftp_window = transport._sftp_clients[0].get_channel().in_window_size

    assert disabled is True
    assert sftp_window == ssh_fetch.STREAM_WINDOW_MAX
    assert report.outcomes[0].status is FileStatus.DOWNLOADED
    assert (dest / "lora.safetensors").read_bytes() == data


@pytest.mark.ssh
def test_sftp_fallback_rejects_wrong_hash(make_ssh, tmp_path, sized_window):
    pod = tmp_path / "pod"
    pod.mkdir()
    data = write_random(pod / "lora.safetensors", 9 * MIB)
    plan = [planned(pod / "lora.safetensors", data, "0" * 64)]
    dest = tmp_path / "dest"

    with make_ssh(python=str(tmp_path / "no-such-python")) as transport:
        report = download(transport, plan, dest, jobs=1)
        disabled = transport._streams_disabled

    assert disabled is True
    assert report.outcomes[0].status is FileStatus.FAILED
    assert "sha256" in report.outcomes[0].message
    assert not (dest / "lora.safetensors").exists()
    assert not (dest / "lora.safetensors.part").exists()
