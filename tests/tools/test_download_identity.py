"""Download tools tell identical local files from different ones of the same size."""

from __future__ import annotations

import os
from pathlib import Path

from ppdesk.demo import build_demo_workspace
from ppdesk.remote.local import LocalTransport
from ppdesk.tools.base import Status, ToolContext
from ppdesk.tools.download_output import DownloadOutput
from ppdesk.tools.workspace import scan_workspace

CONFIG = "sofia_001_lr1e-4"


class CountingTransport(LocalTransport):
    """A LocalTransport that records the agent operations it runs."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.operations: list[str] = []

    def run_agent(self, op, args=None, on_event=None, cancel=None):
        self.operations.append(op)
        return super().run_agent(op, args, on_event, cancel)


def run_download(root: Path, dest: Path):
    transport = CountingTransport.for_root(root)
    config = scan_workspace(transport).config(CONFIG)
    result = DownloadOutput().run(ToolContext(transport=transport, dest=dest), config)
    return result, transport.operations


def test_same_size_newer_local_file_is_conflict(tmp_path):
    root = build_demo_workspace(tmp_path / "ws")
    dest = tmp_path / "dest"
    first, first_operations = run_download(root, dest)
    assert first.status is Status.OK, first.message
    assert "hash_files" not in first_operations

    downloaded = sorted(p for p in (dest / CONFIG / "output").rglob("*") if p.is_file() and p.suffix != ".safetensors")
    target = downloaded[0]
    original = target.read_bytes()
    changed = bytes(255 - b for b in original)
    target.write_bytes(changed)
    later = os.stat(target).st_mtime + 100
    os.utime(target, (later, later))

    second, second_operations = run_download(root, dest)

    assert second_operations.count("hash_files") == 1
    assert second.status is Status.WARNING
    rel = target.relative_to(dest / CONFIG / "output").as_posix()
    assert rel in second.message
    assert target.read_bytes() == changed
    assert [item["rel"] for item in second.details["conflicts"]] == [rel]


def test_rerun_identical_files_skipped(tmp_path):
    root = build_demo_workspace(tmp_path / "ws")
    dest = tmp_path / "dest"
    run_download(root, dest)

    second, _ = run_download(root, dest)

    assert second.status is Status.OK, second.message
    assert "0 files downloaded" in second.message
