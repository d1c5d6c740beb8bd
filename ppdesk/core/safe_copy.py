"""Copy a file into place without replacing an existing one, reporting bytes.

:func:`place_file` writes the bytes to a hidden temporary file in the
destination folder, syncs them, and gives them the final name with a hard
link, which fails instead of replacing a file. While a copy runs, its
process keeps an exclusive ``flock`` on the temporary file, so that
:func:`remove_stale_temporaries` can tell a file left by a killed run from
one that a running copy is still writing.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import time
from typing import Callable, List, Optional

try:
    import fcntl
except ImportError:  # Windows; see _remove_if_abandoned for what replaces the lock there.
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

# Bytes read and written at a time. The progress callback runs once per chunk.
CHUNK = 64 * 1024
# Bytes written between two data syncs. Syncing as the copy goes keeps the
# final fsync short, so that progress and cancel do not stall at the end.
SYNC_EVERY = 64 * 1024 * 1024
TEMP_SUFFIX = ".ppdesk-tmp"
# A longer destination name is shortened in its temporary name, which must stay below 255 bytes.
MAX_TEMP_BASE_BYTES = 200
SHORT_TEMP_BASE_CHARS = 48
# Seconds without a write after which an unlocked temporary file counts as
# left behind, on file systems where flock fails.
UNLOCKED_STALE_AGE = 15 * 60

COPYING = "copying"
COMPARING = "comparing"

# Called after each chunk with the action (COPYING or COMPARING), the bytes
# done so far and the size of the source file, all of one file.
ProgressCallback = Callable[[str, int, int], None]

_NO_HARD_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK)


def place_file(source: str, dest: str, on_progress: Optional[ProgressCallback] = None) -> str:
    """Copy ``source`` to ``dest`` without ever replacing an existing ``dest``.

    Returns ``"copied"``, ``"skipped"`` (``dest`` already has the same
    bytes) or ``"conflict"`` (``dest`` has other bytes and was left alone).
    The bytes go to a hidden, locked temporary file in the destination
    folder, are synced, and appear under ``dest`` through a hard link, which
    fails instead of replacing. The temporary file is removed on every way
    out, including an exception raised by ``on_progress``. Raises OSError on
    read or write failures, such as ENOSPC when the disk is full.
    """
    if os.path.lexists(dest):
        return compare_files(source, dest, on_progress)

    folder, base = os.path.split(dest)
    temporary = _TemporaryFile(folder, base)
    try:
        temporary.fill_from(source, on_progress)
        try:
            os.link(temporary.path, dest)
        except FileExistsError:
            return compare_files(source, dest, on_progress)
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            # NOTE: this file system has no hard links, so a file created at
            # ``dest`` between the check and the rename would be replaced.
            if os.path.lexists(dest):
                return compare_files(source, dest, on_progress)
            os.rename(temporary.path, dest)
        _fsync_folder(folder)
        return "copied"
    finally:
        temporary.discard()


def compare_files(source: str, dest: str, on_progress: Optional[ProgressCallback] = None) -> str:
    """Return ``"skipped"`` when ``dest`` is a file with the bytes of ``source``, else ``"conflict"``.

    A symlink at ``dest`` is followed. Both files are read in CHUNK pieces,
    stopping at the first difference. Raises OSError when a file cannot be read.
    """
    if not os.path.isfile(dest) or os.path.getsize(dest) != os.path.getsize(source):
        return "conflict"
    with open(source, "rb") as left, open(dest, "rb") as right:
        size = os.fstat(left.fileno()).st_size
        done = 0
        while True:
            expected = left.read(CHUNK)
            found = right.read(CHUNK)
            if expected != found:
                return "conflict"
            if not expected:
                return "skipped"
            done += len(expected)
            if on_progress is not None:
                on_progress(COMPARING, done, size)


def is_temporary_name(name: str) -> bool:
    """Return whether ``name`` is the name of a temporary file of :func:`place_file`."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def temporary_name(base: str) -> str:
    """Return a new hidden name for copying to ``base``: ``.<base>.<pid>-<random hex>.ppdesk-tmp``."""
    if len(os.fsencode(base)) > MAX_TEMP_BASE_BYTES:
        base = base[:SHORT_TEMP_BASE_CHARS]
    return f".{base}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}"


def remove_stale_temporaries(folder: str) -> List[str]:
    """Delete the temporary files that interrupted copies left in ``folder`` and return their paths.

    A running copy keeps its file locked, so a file that no process has
    locked was left behind. Where flock fails (some network file systems),
    only a file unchanged for UNLOCKED_STALE_AGE seconds is deleted. A
    missing folder has nothing to delete. Raises OSError when the folder
    cannot be read.
    """
    try:
        with os.scandir(folder) as entries:
            candidates = sorted(
                entry.path for entry in entries if is_temporary_name(entry.name) and entry.is_file(follow_symlinks=False)
            )
    except FileNotFoundError:
        return []
    removed = [path for path in candidates if _remove_if_abandoned(path)]
    for path in removed:
        log.info("removed %s, left by an interrupted copy", path)
    return removed


class _TemporaryFile:
    """A new hidden file beside the destination, locked while this process writes it."""

    def __init__(self, folder: str, base: str) -> None:
        self.path = os.path.join(folder, temporary_name(base))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        self._descriptor: Optional[int] = os.open(self.path, flags, 0o644)
        _lock(self._descriptor, self.path)

    def fill_from(self, source: str, on_progress: Optional[ProgressCallback]) -> None:
        """Copy the bytes of ``source`` into the file and sync them to disk."""
        descriptor = self._descriptor
        assert descriptor is not None, "fill_from runs once, before discard"
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        with open(source, "rb", buffering=0) as reader:
            size = os.fstat(reader.fileno()).st_size
            done = 0
            unsynced = 0
            while True:
                count = reader.readinto(buffer)
                if not count:
                    break
                _write_all(descriptor, view[:count])
                done += count
                unsynced += count
                if unsynced >= SYNC_EVERY:
                    _sync_data(descriptor)
                    unsynced = 0
                if on_progress is not None:
                    on_progress(COPYING, done, size)
        os.fsync(descriptor)
        if fcntl is None:
            # Without flock there is no lock to keep, and Windows cannot rename an open file.
            self._close()

    def discard(self) -> None:
        """Remove the temporary name, if it is still there, and release the lock.

        A file that got its final name keeps it, because only the temporary
        name is removed.
        """
        if fcntl is None:
            # Windows cannot delete a file that is still open.
            self._close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass  # renamed to the final name
        finally:
            self._close()

    def _close(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None


def _write_all(descriptor: int, data: memoryview) -> None:
    while data:
        written = os.write(descriptor, data)
        data = data[written:]


def _sync_data(descriptor: int) -> None:
    # Windows and macOS lack os.fdatasync, and fsync syncs the data too.
    getattr(os, "fdatasync", os.fsync)(descriptor)


def _lock(descriptor: int, path: str) -> None:
    """Hold an exclusive flock on ``descriptor`` until it is closed, where the file system allows it."""
    if fcntl is None:
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
    except OSError as exc:
        log.debug("flock on %s failed (%s), so a later run deletes it only once it is stale", path, exc)


def _remove_if_abandoned(path: str) -> bool:
    """Delete the temporary file ``path`` unless a running copy may still write it; return whether it was deleted."""
    if fcntl is None:
        try:
            os.unlink(path)
        except (FileNotFoundError, PermissionError):
            return False  # Windows cannot delete a file that a running copy has open.
        return True

    try:
        # O_NONBLOCK: a FIFO swapped in under this name must not block the open.
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        log.debug("opening %s to check its lock failed: %s", path, exc)
        return False
    try:
        locked = _try_lock(descriptor)
        if locked is False:
            return False
        info = os.fstat(descriptor)
        if locked is None and time.time() - info.st_mtime < UNLOCKED_STALE_AGE:
            return False
        try:
            if not os.path.samestat(info, os.lstat(path)):
                return False  # The name now belongs to another file.
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True
    finally:
        os.close(descriptor)


def _try_lock(descriptor: int) -> Optional[bool]:
    """Try to lock the file: return True when locked, False when another process has the lock, None when flock fails."""
    assert fcntl is not None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        log.debug("flock failed on descriptor %s: %s", descriptor, exc)
        return None
    return True


def _fsync_folder(folder: str) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # Folders cannot be opened on Windows, so there is nothing to sync.
    try:
        os.fsync(descriptor)
    except OSError as exc:
        log.debug("fsync of folder %s failed: %s", folder, exc)
    finally:
        os.close(descriptor)
