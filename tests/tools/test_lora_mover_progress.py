"""The lm tool on a 128 MiB checkpoint through LocalTransport: byte progress and cancel."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
from lora_helpers import (
    build_large_workspace,
    check_byte_progress,
    local_agents,
    lora_folder,
    run_mover,
    sha256_of,
    sources,
    wait_for_exit,
)

from ppdesk.cancel import CancelToken
from ppdesk.core.safe_copy import is_temporary_name
from ppdesk.remote.local import LocalTransport
from ppdesk.tools.base import ProgressEvent, Status


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return build_large_workspace(tmp_path / "ws")


def test_large_copy_reports_bytes(workspace: Path, tmp_path: Path):
    events: List[ProgressEvent] = []
    result = run_mover(LocalTransport.for_root(workspace), tmp_path / "dest", events.append)

    assert result.status is Status.OK
    assert len(result.remote_files) == 4
    check_byte_progress(events, workspace)
    copied = lora_folder(workspace) / "sofia_001_lr1e-4-00100.safetensors"
    assert sha256_of(copied) == sha256_of(sources(workspace)[0])


def test_cancel_during_large_copy(workspace: Path, tmp_path: Path):
    cancel = CancelToken()
    killed: List[int] = []

    def cancel_on_first_bytes(event: ProgressEvent) -> None:
        if killed or event.unit != "bytes":
            return
        [agent] = local_agents()
        cancel.cancel()
        # Not returning blocks the reader of the agent's output. The agent
        # fills the 64 KiB pipe with its per-chunk lines long before the
        # 128 MiB copy ends and waits there, so the cancel's kill always
        # lands in the middle of the copy.
        wait_for_exit(agent)
        killed.append(agent)

    result = run_mover(LocalTransport.for_root(workspace), tmp_path / "dest", cancel_on_first_bytes, cancel)
    folder = lora_folder(workspace)

    assert len(killed) == 1
    assert result.status is Status.CANCELLED
    [removed] = result.details["removed_temporaries"]
    assert Path(removed).parent == folder
    assert is_temporary_name(Path(removed).name)
    assert result.message == (
        f"0 files copied before the cancel; removed 1 leftover temporary file ({Path(removed).name}); "
        f"run the mover again to copy the rest into {folder}"
    )
    assert list(folder.iterdir()) == []


def test_tool_reports_leftover_removed(workspace: Path, tmp_path: Path):
    folder = lora_folder(workspace)
    folder.mkdir(parents=True)
    leftover = folder / ".sofia_001_lr1e-4-00100.safetensors.77.ppdesk-tmp"
    leftover.write_bytes(b"half")

    result = run_mover(LocalTransport.for_root(workspace), tmp_path / "dest")

    assert result.status is Status.OK
    assert result.message == (
        f"4 files copied, 0 already present, removed 1 leftover temporary file of an interrupted copy in {folder}"
    )
    assert result.details["removed_temporaries"] == [str(leftover)]
    assert sorted(p.name for p in folder.iterdir()) == [
        "sofia_001_lr1e-4-00100.safetensors",
        "sofia_001_lr1e-4-00200.safetensors",
        "sofia_001_lr1e-4-00300.safetensors",
        "sofia_001_lr1e-4-final.safetensors",
    ]
