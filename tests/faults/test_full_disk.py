"""A destination on a small file system that fills up in the middle of a download.

The small file system is, in order of preference: a tmpfs of 8 MiB, a
loop-mounted ext4 image, or (where mounting is not allowed) a write
wrapper that raises ENOSPC. The test records which one it used as the
``filesystem`` property of its report entry.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator, Tuple

import pytest
from faults.conftest import sha256_of

from ppdesk.transfer.engine import download
from ppdesk.transfer.plan import PlannedFile
from ppdesk.transfer.report import FileStatus

FS_SIZE = 8 * 1024 * 1024
FILLER = 4 * 1024 * 1024
FILE_SIZE = 6 * 1024 * 1024

log = logging.getLogger(__name__)


def _mount(command: list, target: Path) -> bool:
    done = subprocess.run(command + [str(target)], capture_output=True, text=True)
    if done.returncode != 0:
        log.info("%s failed: %s", " ".join(command), done.stderr.strip())
    return done.returncode == 0


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Tuple[Path, str]]:
    """Yield (mount point, method) of an 8 MiB file system; unmounted afterwards."""
    target = tmp_path / "small"
    target.mkdir()
    method = ""
    if os.geteuid() == 0 and _mount(["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE}", "tmpfs"], target):
        method = "tmpfs"
    elif os.geteuid() == 0 and shutil.which("mkfs.ext4"):
        image = tmp_path / "small.img"
        with image.open("wb") as handle:
            handle.truncate(FS_SIZE)
        made = subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], capture_output=True)
        if made.returncode == 0 and _mount(["mount", "-o", "loop", str(image)], target):
            method = "loop"
    yield target, method or "wrapper"
    if method:
        subprocess.run(["umount", str(target)], check=True)


class _NoSpaceWriter:
    """A file wrapper that raises ENOSPC once ``budget`` bytes were written (the last fallback)."""

    def __init__(self, handle, budget: int) -> None:
        self._handle = handle
        self._budget = budget

    def write(self, data: bytes) -> int:
        if len(data) > self._budget:
            self._handle.write(data[: self._budget])
            self._budget = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._budget -= len(data)
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)


@pytest.mark.ssh
def test_full_disk_reported_then_resumed(make_transport, small_fs, tmp_path, monkeypatch, record_property):
    mount, method = small_fs
    record_property("filesystem", method)
    data = os.urandom(FILE_SIZE)
    source = tmp_path / "pod" / "weights.safetensors"
    source.parent.mkdir()
    source.write_bytes(data)
    stat = source.stat()
    planned = PlannedFile(str(source), "output/weights.safetensors", FILE_SIZE, stat.st_mtime, hashlib.sha256(data).hexdigest())
    filler = mount / "filler.bin"
    filler.write_bytes(b"\0" * FILLER)
    dest = mount / "dest"

    transport = make_transport(tmp_path / "ws")
    if method == "wrapper":
        original = transport.fetch
        monkeypatch.setattr(transport, "fetch", lambda path, handle, **kw: original(path, _NoSpaceWriter(handle, FS_SIZE - FILLER), **kw))
    first = download(transport, [planned], dest, jobs=1)

    outcome = first.outcomes[0]
    assert outcome.status == FileStatus.FAILED
    assert f"no space left on {dest}" in outcome.message
    final = dest / "output" / "weights.safetensors"
    part = dest / "output" / "weights.safetensors.part"
    assert not final.exists()
    kept = part.stat().st_size
    assert 0 < kept < FILE_SIZE
    # The kept bytes are a true prefix of the file, so resuming from them is safe.
    assert part.read_bytes() == data[:kept]

    filler.unlink()
    monkeypatch.undo()
    second = download(transport, [planned], dest, jobs=1)
    assert second.outcomes[0].status == FileStatus.DOWNLOADED, second.outcomes[0].message
    assert second.bytes_fetched == FILE_SIZE - kept
    assert sha256_of(final) == planned.sha256
    assert not part.exists()
