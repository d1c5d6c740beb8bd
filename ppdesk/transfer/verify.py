"""Comparing a local file with its planned remote file, and hashing."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Optional

from ppdesk.transfer.plan import PlannedFile

HASH_CHUNK = 1024 * 1024
# Two mtimes closer than this, in seconds, are the same. SFTP reports whole
# seconds while the agent reports fractions, and FAT stores 2-second steps.
MTIME_TOLERANCE = 2.0


@dataclass(frozen=True)
class LocalMatch:
    """The verdict on an existing local file: ``identical`` or not, and why."""

    identical: bool
    reason: str


def sha256_prefix(path: Path, length: int) -> "hashlib._Hash":
    """Return a sha256 object fed with the first ``length`` bytes of ``path``."""
    digest = hashlib.sha256()
    remaining = length
    if remaining <= 0:
        return digest
    with open(path, "rb") as handle:
        while remaining > 0:
            chunk = handle.read(min(HASH_CHUNK, remaining))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
    return digest


def sha256_file(path: Path) -> str:
    return sha256_prefix(path, os.path.getsize(path)).hexdigest()


def compare_existing(path: Path, planned: PlannedFile) -> LocalMatch:
    """Decide whether the file at ``path`` already is ``planned``.

    Identical means the same size and, when the plan carries a sha256, the
    same hash. Without a hash the size must match and the local mtime must
    not be older than the remote one (within MTIME_TOLERANCE). The engine
    sets a downloaded file's mtime to the remote mtime, so a rerun matches.
    A remote file edited after the local copy was made does not match.
    Symlinks and folders are never identical. OSError propagates.
    """
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return LocalMatch(False, "a symlink exists at this path")
    if not stat.S_ISREG(info.st_mode):
        return LocalMatch(False, "a folder or special file exists at this path")
    if info.st_size != planned.size:
        return LocalMatch(False, f"the local file has {info.st_size} bytes, the remote file {planned.size}")

    if planned.sha256:
        local = sha256_file(path)
        if local != planned.sha256:
            return LocalMatch(False, f"same size but sha256 {local} differs from the remote {planned.sha256}")
        return LocalMatch(True, "same size and sha256")

    if info.st_mtime + MTIME_TOLERANCE < planned.mtime:
        return LocalMatch(False, "same size but the local file is older than the remote one")
    return LocalMatch(True, "same size, local copy not older")


def stat_changed(planned: PlannedFile, size: int, mtime: float) -> Optional[str]:
    """Describe how a remote stat differs from the plan, or return None."""
    if size != planned.size:
        return f"size changed from {planned.size} to {size} bytes"
    if abs(mtime - planned.mtime) >= MTIME_TOLERANCE:
        return f"modification time changed from {planned.mtime:.0f} to {mtime:.0f}"
    return None


class HashingWriter:
    """A write-only file wrapper that feeds every written byte to a hash."""

    def __init__(self, target: BinaryIO, digest: Any) -> None:
        self._target = target
        self._digest = digest

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        return self._target.write(data)

    def flush(self) -> None:
        self._target.flush()

    def tell(self) -> int:
        return self._target.tell()
