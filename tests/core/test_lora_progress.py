"""Progress lines, full disks, lost clients and leftovers of the pod-side LoRA mover."""

from __future__ import annotations

import errno
import io
import json
import os
import random
import subprocess
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import pytest

from ppdesk.core import safe_copy
from ppdesk.core.layout import WorkspaceLayout
from ppdesk.core.loras import op_move_loras
from ppdesk.core.move_progress import ClientGone, format_size
from ppdesk.core.protocol import AgentFailure, Emitter
from ppdesk.core.safe_copy import CHUNK, is_temporary_name, temporary_name
from ppdesk.demo import build_demo_workspace

CONFIG = "sofia_001_lr1e-4"
# Copied second, after the small checkpoint-100 file, so a run switches units mid-way.
LARGE_STEP = 200
LARGE_SIZE = 64 * CHUNK + 123


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = build_demo_workspace(tmp_path / "ws")
    weights = root / "SimpleTuner" / "output" / CONFIG / f"checkpoint-{LARGE_STEP}" / "pytorch_lora_weights.safetensors"
    weights.write_bytes(random.Random(7).randbytes(LARGE_SIZE))
    return root


def _folder(root: Path) -> Path:
    return root / "ComfyUI" / "models" / "loras" / "flux" / "sofia" / CONFIG


def _sources(root: Path) -> List[Path]:
    output = root / "SimpleTuner" / "output" / CONFIG
    steps = [output / f"checkpoint-{step}" / "pytorch_lora_weights.safetensors" for step in (100, 200, 300)]
    return steps + [output / "pytorch_lora_weights.safetensors"]


def _move(root: Path, loras_dir: Optional[Path] = None, **args) -> Tuple[dict, List[dict]]:
    stream = io.StringIO()
    overrides = {} if loras_dir is None else {"loras_dir": str(loras_dir)}
    layout = WorkspaceLayout.from_root(str(root), **overrides)
    data = op_move_loras(layout, {"config": CONFIG, **args}, Emitter(stream))
    return data, [json.loads(line) for line in stream.getvalue().splitlines()]


def _progress(lines: List[dict]) -> List[dict]:
    return [line for line in lines if line["type"] == "progress"]


def test_large_copy_reports_bytes(workspace: Path):
    data, lines = _move(workspace, progress_interval=0)
    progress = _progress(lines)
    total = sum(path.stat().st_size for path in _sources(workspace))
    small = _sources(workspace)[0].stat().st_size

    # The first file is small: one chunk, so only its file line, counted in files.
    assert progress[0] == {
        "type": "progress", "done": 1, "total": 4, "message": "copied sofia_001_lr1e-4-00100.safetensors",
        "unit": "items", "finished": {"name": "sofia_001_lr1e-4-00100.safetensors", "outcome": "copied"},
    }
    rest = progress[1:]
    assert all(line["unit"] == "bytes" and line["phase"] == "copying" for line in rest)
    assert all(line["total"] == total for line in rest)
    # One line per chunk of the large file except its last, then one line per file.
    assert len(rest) == (LARGE_SIZE // CHUNK) + 3
    done = [line["done"] for line in rest]
    assert done == sorted(done)
    assert done[0] == small + CHUNK
    assert done[-1] == total
    assert rest[0]["message"] == f"copying sofia_001_lr1e-4-00200.safetensors: {format_size(CHUNK)} of {format_size(LARGE_SIZE)}"
    assert [line["message"] for line in rest[-3:]] == [
        "copied sofia_001_lr1e-4-00200.safetensors",
        "copied sofia_001_lr1e-4-00300.safetensors",
        "copied sofia_001_lr1e-4-final.safetensors",
    ]
    assert len(data["copied"]) == 4
    assert (_folder(workspace) / "sofia_001_lr1e-4-00200.safetensors").read_bytes() == _sources(workspace)[1].read_bytes()


def test_rerun_reports_comparing(workspace: Path):
    first, _ = _move(workspace)
    second, lines = _move(workspace, progress_interval=0)
    messages = [line["message"] for line in _progress(lines)]

    assert second["skipped"] == first["copied"]
    assert second["copied"] == []
    assert messages[1].startswith("comparing sofia_001_lr1e-4-00200.safetensors: ")
    assert sum(message.startswith("comparing ") for message in messages) == LARGE_SIZE // CHUNK


def test_small_files_count_items(tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    _data, lines = _move(root)
    assert [line["unit"] for line in _progress(lines)] == ["items"] * 4


@pytest.mark.parametrize("value", [-1, 61, "fast", True, None])
def test_bad_interval_rejected(workspace: Path, value):
    with pytest.raises(AgentFailure) as caught:
        _move(workspace, progress_interval=value)
    assert caught.value.kind == "invalid_request"
    assert repr(value) in caught.value.message


def test_full_disk_is_per_file_error(workspace: Path, monkeypatch: pytest.MonkeyPatch):
    real_write = safe_copy._write_all

    def fill_up(descriptor: int, data: memoryview) -> None:
        # Only the large file ever grows past one chunk.
        if os.lseek(descriptor, 0, os.SEEK_CUR) >= 4 * CHUNK:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(descriptor, data)

    monkeypatch.setattr(safe_copy, "_write_all", fill_up)
    data, lines = _move(workspace)
    folder = _folder(workspace)
    dest = folder / "sofia_001_lr1e-4-00200.safetensors"

    assert len(data["errors"]) == 1
    error = data["errors"][0]
    assert error["source"] == str(_sources(workspace)[1])
    assert error["message"] == (
        f"copy to {dest} failed: No space left on device; the file needs {format_size(LARGE_SIZE)}, "
        "so free space on that disk and run the mover again"
    )
    assert sorted(p.name for p in folder.iterdir()) == [
        "sofia_001_lr1e-4-00100.safetensors",
        "sofia_001_lr1e-4-00300.safetensors",
        "sofia_001_lr1e-4-final.safetensors",
    ]
    assert [line["message"] for line in _progress(lines)][1] == "failed sofia_001_lr1e-4-00200.safetensors"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """Yield an empty 1 MiB tmpfs; the test is skipped where mounting is not allowed."""
    target = tmp_path / "small"
    target.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(target)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"mount of a tmpfs failed: {mounted.stderr.strip()}")
    yield target
    subprocess.run(["umount", str(target)], check=True)


def test_real_full_disk_is_per_file_error(workspace: Path, small_disk: Path):
    data, _ = _move(workspace, loras_dir=small_disk / "loras")
    folder = small_disk / "loras" / "flux" / "sofia" / CONFIG
    dest = folder / "sofia_001_lr1e-4-00200.safetensors"

    assert [error["message"] for error in data["errors"]] == [
        f"copy to {dest} failed: No space left on device; the file needs {format_size(LARGE_SIZE)}, "
        "so free space on that disk and run the mover again"
    ]
    assert sorted(p.name for p in folder.iterdir()) == [
        "sofia_001_lr1e-4-00100.safetensors",
        "sofia_001_lr1e-4-00300.safetensors",
        "sofia_001_lr1e-4-final.safetensors",
    ]


class _ClosedAfterItems(io.StringIO):
    """A stream that fails like a closed pipe on the first byte progress line."""

    def write(self, text: str) -> int:
        if '"unit": "bytes"' in text:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")
        return super().write(text)


def test_lost_client_stops_copy(workspace: Path):
    stream = _ClosedAfterItems()
    with pytest.raises(ClientGone):
        op_move_loras(WorkspaceLayout.from_root(str(workspace)), {"config": CONFIG, "progress_interval": 0}, Emitter(stream))

    # The small first file was done before the client went away; the large one left nothing.
    assert [p.name for p in _folder(workspace).iterdir()] == ["sofia_001_lr1e-4-00100.safetensors"]
    assert len(stream.getvalue().splitlines()) == 1


def test_leftover_temporary_removed_and_reported(workspace: Path):
    folder = _folder(workspace)
    folder.mkdir(parents=True)
    leftover = folder / ".sofia_001_lr1e-4-00200.safetensors.999.ppdesk-tmp"
    leftover.write_bytes(b"x" * 1000)

    data, _ = _move(workspace)

    assert data["removed_temporaries"] == [str(leftover)]
    assert len(data["copied"]) == 4
    assert [p.name for p in folder.iterdir() if is_temporary_name(p.name)] == []


def test_cleanup_only_copies_nothing(workspace: Path):
    folder = _folder(workspace)
    folder.mkdir(parents=True)
    leftover = folder / temporary_name("sofia_001_lr1e-4-00200.safetensors")
    leftover.write_bytes(b"partial")

    data, lines = _move(workspace, cleanup_only=True)

    assert data == {
        "loras_dir": str(workspace / "ComfyUI" / "models" / "loras"),
        "folder": str(folder),
        "removed_temporaries": [str(leftover)],
    }
    assert list(folder.iterdir()) == []
    assert lines == []
