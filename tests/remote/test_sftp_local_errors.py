"""A full local disk during an SFTP-fallback download is a local OSError, not a read error on the pod."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path

import pytest


class FullDisk(io.BytesIO):
    """A destination that accepts ``room`` bytes, then fails as a full disk does."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, data) -> int:
        if self.tell() + len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)


@pytest.mark.ssh
def test_sftp_full_disk_is_oserror(make_ssh, tmp_path: Path):
    source = tmp_path / "weights.safetensors"
    source.write_bytes(os.urandom(3 * 1024 * 1024))
    sink = FullDisk(room=1024 * 1024)

    # An interpreter that does not exist makes the transport fetch over SFTP.
    with make_ssh(python=str(tmp_path / "no-such-python")) as transport:
        with pytest.raises(OSError) as caught:
            transport.fetch(str(source), sink)

    assert caught.value.errno == errno.ENOSPC
    assert type(caught.value) is OSError
    assert sink.getvalue() == source.read_bytes()[: len(sink.getvalue())]
