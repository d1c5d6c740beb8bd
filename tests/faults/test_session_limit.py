"""Downloads with more workers than the server allows session channels (OpenSSH MaxSessions).

The server rejects the extra channels with "Connect failed" on a link that
is otherwise fine; every file must still arrive, with no reconnect.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Iterator, List

import pytest
from faults.conftest import ClientKeys, SshdServer, start_server_with_options

from ppdesk.transfer.engine import download
from ppdesk.transfer.plan import PlannedFile

FILES = 40


@pytest.fixture
def four_session_sshd(tmp_path: Path, fault_keys: ClientKeys) -> Iterator[SshdServer]:
    server = start_server_with_options(tmp_path / "sshd-four", fault_keys, ["MaxSessions 4"])
    yield server
    server.stop()


def _pod_files(folder: Path) -> List[PlannedFile]:
    folder.mkdir(parents=True)
    planned = []
    for index in range(FILES):
        path = folder / f"sample-{index:02}.png"
        data = os.urandom(200_000 + index)
        path.write_bytes(data)
        stat = path.stat()
        planned.append(PlannedFile(str(path), f"samples/{path.name}", stat.st_size, stat.st_mtime,
                                   hashlib.sha256(data).hexdigest()))
    return planned


@pytest.mark.ssh
def test_more_workers_than_sessions(make_transport, four_session_sshd, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ppdesk")
    files = _pod_files(tmp_path / "pod" / "output")
    transport = make_transport(tmp_path / "pod", server=four_session_sshd)

    report = download(transport, files, tmp_path / "dest", jobs=12)

    assert report.ok, [outcome.message for outcome in report.failed]
    assert len(report.downloaded) == FILES
    for planned in files:
        local = tmp_path / "dest" / planned.rel_path
        assert local.read_bytes() == Path(planned.remote_path).read_bytes()
    messages = [record.getMessage() for record in caplog.records]
    assert not [message for message in messages if "reconnecting" in message]
    assert not [message for message in messages if "retry" in message]
    assert any("rejected another SSH session" in message for message in messages), messages
