"""place_file and the temporary-file cleanup (core/safe_copy.py) on real files."""

from __future__ import annotations

import errno
import fcntl
import os
import random
import time
from pathlib import Path
from typing import List, Tuple

import pytest

from ppdesk.core import safe_copy
from ppdesk.core.safe_copy import (
    CHUNK,
    COMPARING,
    COPYING,
    is_temporary_name,
    place_file,
    remove_stale_temporaries,
    temporary_name,
)

Call = Tuple[str, int, int]


def _random_file(path: Path, size: int, seed: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def _temporaries(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.iterdir() if is_temporary_name(p.name))


def _recorder() -> Tuple[List[Call], "safe_copy.ProgressCallback"]:
    calls: List[Call] = []
    return calls, lambda action, done, size: calls.append((action, done, size))


def test_copy_reports_every_chunk(tmp_path: Path):
    size = 3 * CHUNK + 5
    source = _random_file(tmp_path / "in" / "a.safetensors", size)
    dest = tmp_path / "out" / "b.safetensors"
    dest.parent.mkdir()
    calls, record = _recorder()

    assert place_file(str(source), str(dest), record) == "copied"

    assert calls == [
        (COPYING, CHUNK, size),
        (COPYING, 2 * CHUNK, size),
        (COPYING, 3 * CHUNK, size),
        (COPYING, size, size),
    ]
    assert dest.read_bytes() == source.read_bytes()
    assert _temporaries(dest.parent) == []


def test_identical_dest_compared_chunkwise(tmp_path: Path):
    size = 2 * CHUNK + 1
    source = _random_file(tmp_path / "a.safetensors", size)
    dest = _random_file(tmp_path / "out" / "b.safetensors", size)
    calls, record = _recorder()

    assert place_file(str(source), str(dest), record) == "skipped"

    assert calls == [(COMPARING, CHUNK, size), (COMPARING, 2 * CHUNK, size), (COMPARING, size, size)]


def test_difference_in_last_chunk_is_conflict(tmp_path: Path):
    size = 2 * CHUNK + 1
    source = _random_file(tmp_path / "a.safetensors", size)
    dest = tmp_path / "out" / "b.safetensors"
    dest.parent.mkdir()
    changed = bytearray(source.read_bytes())
    changed[-1] ^= 0xFF
    dest.write_bytes(bytes(changed))

    assert place_file(str(source), str(dest)) == "conflict"
    assert dest.read_bytes() == bytes(changed)


def test_difference_in_first_chunk_stops_compare(tmp_path: Path):
    source = _random_file(tmp_path / "a.safetensors", 4 * CHUNK, seed=1)
    dest = _random_file(tmp_path / "out" / "b.safetensors", 4 * CHUNK, seed=2)
    calls, record = _recorder()

    assert place_file(str(source), str(dest), record) == "conflict"
    assert calls == []


def test_disk_full_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    source = _random_file(tmp_path / "a.safetensors", 8 * CHUNK)
    folder = tmp_path / "out"
    folder.mkdir()
    real_write = safe_copy._write_all

    def fill_up(descriptor: int, data: memoryview) -> None:
        if os.lseek(descriptor, 0, os.SEEK_CUR) >= 3 * CHUNK:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(descriptor, data)

    monkeypatch.setattr(safe_copy, "_write_all", fill_up)
    with pytest.raises(OSError) as caught:
        place_file(str(source), str(folder / "b.safetensors"))

    assert caught.value.errno == errno.ENOSPC
    assert list(folder.iterdir()) == []


def test_failing_progress_callback_removes_temporary(tmp_path: Path):
    source = _random_file(tmp_path / "a.safetensors", 8 * CHUNK)
    folder = tmp_path / "out"
    folder.mkdir()
    seen: List[str] = []

    def stop_at_third_chunk(action: str, done: int, size: int) -> None:
        seen.extend(_temporaries(folder))
        if done >= 3 * CHUNK:
            raise RuntimeError("client gone")

    with pytest.raises(RuntimeError):
        place_file(str(source), str(folder / "b.safetensors"), stop_at_third_chunk)

    assert len(set(seen)) == 1
    assert list(folder.iterdir()) == []


def test_stale_temporary_removed(tmp_path: Path):
    # The name an older version used: .<name>.<pid>.ppdesk-tmp
    old_style = tmp_path / ".b.safetensors.4242.ppdesk-tmp"
    old_style.write_bytes(b"half a file")
    new_style = tmp_path / temporary_name("c.safetensors")
    new_style.write_bytes(b"another half")
    keep = [tmp_path / ".keep", tmp_path / "visible.ppdesk-tmp", tmp_path / "b.safetensors"]
    for path in keep:
        path.write_bytes(b"not ours to delete")
    link = tmp_path / ".link.ppdesk-tmp"
    link.symlink_to(keep[2])

    removed = remove_stale_temporaries(str(tmp_path))

    assert removed == sorted([str(old_style), str(new_style)])
    assert not old_style.exists()
    assert not new_style.exists()
    assert all(path.read_bytes() == b"not ours to delete" for path in keep)
    assert link.is_symlink()


def test_locked_temporary_kept(tmp_path: Path):
    busy = tmp_path / temporary_name("b.safetensors")
    busy.write_bytes(b"being written")
    # flock locks belong to an open file description, so this holder
    # conflicts with the cleanup's own open of the same file.
    with busy.open("rb") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
        assert remove_stale_temporaries(str(tmp_path)) == []
        assert busy.read_bytes() == b"being written"
    assert remove_stale_temporaries(str(tmp_path)) == [str(busy)]


def test_unlockable_temporary_removed_only_when_old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fresh = tmp_path / temporary_name("a.safetensors")
    old = tmp_path / temporary_name("b.safetensors")
    fresh.write_bytes(b"fresh")
    old.write_bytes(b"old")
    past = time.time() - safe_copy.UNLOCKED_STALE_AGE - 60
    os.utime(old, (past, past))
    monkeypatch.setattr(safe_copy, "_try_lock", lambda descriptor: None)

    assert remove_stale_temporaries(str(tmp_path)) == [str(old)]
    assert fresh.exists()


def test_missing_folder_has_no_temporaries(tmp_path: Path):
    assert remove_stale_temporaries(str(tmp_path / "missing")) == []


def test_temporary_name_fits_long_base():
    base = "x" * 250 + ".safetensors"
    name = temporary_name(base)
    assert len(os.fsencode(name)) <= 255
    assert is_temporary_name(name)
    assert name != temporary_name(base)


def test_copy_without_flock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Windows has no fcntl module: the copy closes its file before linking,
    # and the cleanup deletes whatever it may delete.
    monkeypatch.setattr(safe_copy, "fcntl", None)
    source = _random_file(tmp_path / "a.safetensors", 3 * CHUNK)
    folder = tmp_path / "out"
    folder.mkdir()
    leftover = folder / temporary_name("c.safetensors")
    leftover.write_bytes(b"half")

    assert place_file(str(source), str(folder / "b.safetensors")) == "copied"
    assert remove_stale_temporaries(str(folder)) == [str(leftover)]
    assert sorted(p.name for p in folder.iterdir()) == ["b.safetensors"]
    assert (folder / "b.safetensors").read_bytes() == source.read_bytes()
