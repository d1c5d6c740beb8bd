"""A download over SSH survives the loss of its sshd session process."""

from __future__ import annotations

import hashlib
import os

import pytest

from ppdesk.transfer.engine import download
from ppdesk.transfer.plan import PlannedFile
from ppdesk.transfer.report import FileStatus

# With progress for every block, the kill lands right after KILL_AFTER bytes.
# The pod can then have sent at most one channel window (16 MiB at most)
# plus socket buffers beyond that, far less than the rest of the file.
SIZE = 64 * 1024 * 1024
KILL_AFTER = 4 * 1024 * 1024


@pytest.mark.ssh
@pytest.mark.slow
# paramiko's prefetch thread dies with EOFError when the link drops; the
# download gets ConnectionLost and retries.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_download_survives_killed_session(make_ssh, private_sshd, tmp_path, progress_every_block):
    data = os.urandom(SIZE)
    source = tmp_path / "pod" / "pytorch_lora_weights.safetensors"
    source.parent.mkdir()
    source.write_bytes(data)
    stat = source.stat()
    planned = PlannedFile(str(source), "output/pytorch_lora_weights.safetensors", stat.st_size, stat.st_mtime,
                          hashlib.sha256(data).hexdigest())
    killed = []

    def kill_once(progress) -> None:
        # Runs on the download worker, so the kill lands before the next block is read.
        if not killed and progress.file_done >= KILL_AFTER:
            for pid in private_sshd.session_pids():
                os.kill(pid, 9)
                killed.append(pid)

    transport = make_ssh(server=private_sshd)
    transport.connect()
    report = download(transport, [planned], tmp_path / "dest", jobs=1, on_progress=kill_once, backoff=0.05)

    outcome = report.outcomes[0]
    assert killed
    assert outcome.status == FileStatus.DOWNLOADED, outcome.message
    result = tmp_path / "dest" / "output" / "pytorch_lora_weights.safetensors"
    assert hashlib.sha256(result.read_bytes()).hexdigest() == planned.sha256
    assert private_sshd.session_pids() not in ([], killed)
