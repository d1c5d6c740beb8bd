"""Pod files that change while they download (training still running)."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from ppdesk.transfer.engine import download
from ppdesk.transfer.plan import PlannedFile
from ppdesk.transfer.report import FileStatus

# Larger than any read-ahead window, so the change lands while the pod still reads.
SIZE = 160 * 1024 * 1024
CHANGE_AT = 8 * 1024 * 1024
# An mtime well before the test, as for a file written earlier in the run.
OLD_MTIME = 1_700_000_000


def _pod_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "pod" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(os.urandom(SIZE))
    os.utime(path, (OLD_MTIME, OLD_MTIME))
    return path


def _plan(path: Path, rel: str, with_hash: bool) -> PlannedFile:
    stat = path.stat()
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if with_hash else None
    return PlannedFile(str(path), rel, stat.st_size, stat.st_mtime, digest)


def _download_changing(transport, planned: PlannedFile, dest: Path, change):
    done = threading.Event()

    def change_once(progress) -> None:
        if not done.is_set() and progress.file_done >= CHANGE_AT:
            done.set()
            change()

    report = download(transport, [planned], dest, jobs=1, on_progress=change_once)
    assert done.is_set()
    return report.outcomes[0]


def _check_outcome(outcome, final: Path, original_sha256: str) -> None:
    """Assert that a change was reported, or that the saved file is exactly the planned snapshot.

    The pod may have read the whole planned range before the change landed;
    then the download is a consistent copy of the file as planned.
    """
    if outcome.status == FileStatus.DOWNLOADED:
        assert hashlib.sha256(final.read_bytes()).hexdigest() == original_sha256
        return
    assert outcome.status == FileStatus.FAILED
    assert "changed" in outcome.message or "sha256" in outcome.message
    assert os.listdir(final.parent) == []


@pytest.mark.ssh
@pytest.mark.parametrize("with_hash", [False, True], ids=["no-hash", "sha256"])
def test_growing_file_not_saved(make_transport, tmp_path, with_hash, progress_every_block):
    source = _pod_file(tmp_path, "training_metrics.jsonl")
    planned = _plan(source, "training_metrics.jsonl", with_hash)

    def grow() -> None:
        with source.open("ab") as handle:
            handle.write(os.urandom(1024 * 1024))

    original = hashlib.sha256(source.read_bytes()).hexdigest()
    outcome = _download_changing(make_transport(tmp_path / "ws"), planned, tmp_path / "dest", grow)

    _check_outcome(outcome, tmp_path / "dest" / "training_metrics.jsonl", original)


@pytest.mark.ssh
@pytest.mark.parametrize("with_hash", [False, True], ids=["no-hash", "sha256"])
def test_rewritten_file_not_saved(make_transport, tmp_path, with_hash, progress_every_block):
    """A file rewritten in place with the same size: caught by mtime, or by sha256 when planned."""
    source = _pod_file(tmp_path, "pytorch_lora_weights.safetensors")
    planned = _plan(source, "pytorch_lora_weights.safetensors", with_hash)

    def rewrite() -> None:
        with source.open("r+b") as handle:
            handle.write(os.urandom(SIZE))

    original = hashlib.sha256(source.read_bytes()).hexdigest()
    outcome = _download_changing(make_transport(tmp_path / "ws"), planned, tmp_path / "dest", rewrite)

    _check_outcome(outcome, tmp_path / "dest" / "pytorch_lora_weights.safetensors", original)


@pytest.mark.ssh
def test_resumed_part_of_replaced_file(make_transport, tmp_path):
    """A .part left by an earlier run of a file replaced since then is never completed with mixed bytes."""
    source = _pod_file(tmp_path, "pytorch_lora_weights.safetensors")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "pytorch_lora_weights.safetensors.part").write_bytes(os.urandom(CHANGE_AT))
    planned = _plan(source, "pytorch_lora_weights.safetensors", True)

    report = download(make_transport(tmp_path / "ws"), [planned], dest, jobs=1)

    outcome = report.outcomes[0]
    final = dest / "pytorch_lora_weights.safetensors"
    if outcome.status == FileStatus.DOWNLOADED:
        assert hashlib.sha256(final.read_bytes()).hexdigest() == planned.sha256
    else:
        assert outcome.status == FileStatus.FAILED
        assert "sha256" in outcome.message
        assert not final.exists()
