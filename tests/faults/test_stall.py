"""A server that stops replying in the middle of a file (its session processes get SIGSTOP)."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

import pytest
from faults.conftest import FAST_IO_TIMEOUT, FAST_KEEPALIVE, resume_all, sha256_of, stop_sessions

from ppdesk.cancel import CancelToken
from ppdesk.transfer.engine import download
from ppdesk.transfer.plan import PlannedFile
from ppdesk.transfer.report import FileStatus

SIZE = 128 * 1024 * 1024
STOP_AFTER = 16 * 1024 * 1024
# Upper bound for a download that must end by itself; far above the watchdog's few seconds.
HANG_LIMIT = 120.0


def _source(tmp_path: Path) -> PlannedFile:
    path = tmp_path / "pod" / "model.safetensors"
    path.parent.mkdir()
    data = os.urandom(SIZE)
    path.write_bytes(data)
    stat = path.stat()
    return PlannedFile(str(path), "model.safetensors", stat.st_size, stat.st_mtime, hashlib.sha256(data).hexdigest())


def _run_in_thread(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


@pytest.mark.ssh
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_stall_reported_then_resumed(make_transport, own_sshd, tmp_path, caplog, progress_every_block):
    planned = _source(tmp_path)
    stopped = []

    def stop_once(progress) -> None:
        if not stopped and progress.file_done >= STOP_AFTER:
            stopped.extend(stop_sessions(own_sshd))

    transport = make_transport(tmp_path / "ws", server=own_sshd, keepalive=FAST_KEEPALIVE, io_timeout=FAST_IO_TIMEOUT)
    caplog.set_level(logging.INFO)
    reports = []
    thread = _run_in_thread(lambda: reports.append(
        download(transport, [planned], tmp_path / "dest", jobs=1, on_progress=stop_once, retries=0)))
    thread.join(HANG_LIMIT)

    assert not thread.is_alive(), "the download hung on a stalled server"
    assert stopped
    outcome = reports[0].outcomes[0]
    assert outcome.status == FileStatus.FAILED
    assert "stalled" in outcome.message
    assert "stalled" in caplog.text
    part = tmp_path / "dest" / "model.safetensors.part"
    kept = part.stat().st_size
    assert STOP_AFTER <= kept < SIZE
    assert not (tmp_path / "dest" / "model.safetensors").exists()

    # The next try resumes from the .part file once the server runs again.
    resume_all(own_sshd)
    second = download(transport, [planned], tmp_path / "dest", jobs=1)
    assert second.outcomes[0].status == FileStatus.DOWNLOADED, second.outcomes[0].message
    assert second.bytes_fetched == SIZE - kept
    assert sha256_of(tmp_path / "dest" / "model.safetensors") == planned.sha256


@pytest.mark.ssh
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
# A pod without a usable Python cannot run the stream agent, so its bytes come over SFTP.
@pytest.mark.parametrize("python", [None, "/nonexistent/python3"], ids=["stream", "sftp"])
def test_cancel_while_stalled(make_transport, own_sshd, tmp_path, python, progress_every_block):
    planned = _source(tmp_path)
    stopped = threading.Event()
    cancel = CancelToken()

    def stop_once(progress) -> None:
        if not stopped.is_set() and progress.file_done >= STOP_AFTER:
            stop_sessions(own_sshd)
            stopped.set()

    # A slow watchdog, so only Cancel can end the wait.
    transport = make_transport(tmp_path / "ws", server=own_sshd, keepalive=600.0, io_timeout=600.0, python=python)
    reports = []
    thread = _run_in_thread(lambda: reports.append(
        download(transport, [planned], tmp_path / "dest", jobs=1, on_progress=stop_once, cancel=cancel, retries=0)))
    assert stopped.wait(HANG_LIMIT)
    cancel.cancel()
    thread.join(HANG_LIMIT)

    assert not thread.is_alive(), "Cancel did not end a download from a stalled server"
    outcome = reports[0].outcomes[0]
    assert outcome.status == FileStatus.CANCELLED, outcome.message
    assert (tmp_path / "dest" / "model.safetensors.part").stat().st_size >= STOP_AFTER
    assert not (tmp_path / "dest" / "model.safetensors").exists()
