"""A cancelled lm run reports the files it copied before the cancel, in one log line and in its result."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import List

import pytest
from lora_helpers import CONFIG, build_demo_workspace, local_agents, lora_folder, sources, wait_for_exit, write_large_weights

from ppdesk.cancel import CancelToken
from ppdesk.core.safe_copy import is_temporary_name
from ppdesk.remote.local import LocalTransport
from ppdesk.tools.base import ProgressEvent, Status, ToolContext, ToolResult
from ppdesk.tools.lora_finished import FinishedFiles
from ppdesk.tools.lora_mover import LoraMover
from ppdesk.tools.postprocess import PostProcess, mark_interrupted
from ppdesk.tools.workspace import scan_workspace

FIRST = f"{CONFIG}-00100.safetensors"


class EveryChunkMover(LoraMover):
    """The lm tool with a progress line for every chunk, as the orchestrator builds tools without arguments."""

    def __init__(self) -> None:
        super().__init__(progress_interval=0)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The demo workspace with CONFIG's second checkpoint made large, so a cancel lands while copying it."""
    root = build_demo_workspace(tmp_path / "ws")
    write_large_weights(sources(root)[1])
    return root


def cancel_during_second_copy(workspace: Path, tmp_path: Path) -> List[ToolResult]:
    """Run lm through the orchestrator and cancel at the first byte line, which belongs to the second file."""
    transport = LocalTransport.for_root(workspace)
    [config] = scan_workspace(transport).select(None, CONFIG)
    cancel = CancelToken()
    killed: List[int] = []

    def cancel_on_first_bytes(event: ProgressEvent) -> None:
        if killed or event.unit != "bytes":
            return
        [agent] = local_agents()
        cancel.cancel()
        # Not returning blocks the reader of the agent's output, so the agent
        # waits on a full pipe in the middle of the large copy until the
        # cancel kills it.
        wait_for_exit(agent)
        killed.append(agent)

    ctx = ToolContext(transport=transport, dest=tmp_path / "dest", progress=cancel_on_first_bytes, cancel=cancel)
    results = PostProcess(["lm"], {"lm": EveryChunkMover}).run(ctx, [config])
    assert len(killed) == 1
    return results


def test_cancel_names_copied_files(workspace: Path, tmp_path: Path):
    [result] = cancel_during_second_copy(workspace, tmp_path)
    folder = lora_folder(workspace)

    assert result.status is Status.CANCELLED
    [removed] = result.details["removed_temporaries"]
    assert is_temporary_name(Path(removed).name)
    assert result.message == (
        f"1 file copied before the cancel ({FIRST}); removed 1 leftover temporary file ({Path(removed).name}); "
        f"run the mover again to copy the rest into {folder}"
    )
    assert result.details["copied"] == [str(folder / FIRST)]
    assert result.remote_files == [str(folder / FIRST)]
    assert result.details["folder"] == str(folder)
    assert sorted(path.name for path in folder.iterdir()) == [FIRST]
    assert (folder / FIRST).read_bytes() == sources(workspace)[0].read_bytes()


def test_cancel_logged_once(workspace: Path, tmp_path: Path, caplog):
    caplog.set_level(logging.INFO, logger="ppdesk.tools")

    [result] = cancel_during_second_copy(workspace, tmp_path)

    messages = [record.getMessage() for record in caplog.records]
    finished = [message for message in messages if message.startswith(f"LoRA mover finished on {CONFIG}")]
    assert finished == [f"LoRA mover finished on {CONFIG}: cancelled, {result.message}"]
    assert not any("cancelled, cancelled" in message for message in messages)
    assert sum("leftover temporary file" in message or "partial copies" in message for message in messages) == 1


def test_finished_files_summary():
    finished = FinishedFiles()
    seen: List[str] = []
    record = finished.watch(lambda event: seen.append(event.message))
    lines = [
        ("copying LoRA weights", "", ""),
        ("copied a-00100.safetensors", "a-00100.safetensors", "copied"),
        ("skipped a-00200.safetensors", "a-00200.safetensors", "skipped"),
        ("comparing a-00300.safetensors: 64.0 KiB of 1.0 MiB", "", ""),
        ("conflict a-00300.safetensors", "a-00300.safetensors", "conflict"),
        ("failed a-final.safetensors", "a-final.safetensors", "failed"),
        # Only the structured fields count, not the wording of the message.
        ("copied b-00100.safetensors", "", ""),
    ]
    for message, name, outcome in lines:
        record(ProgressEvent("lm", "a", message, finished_name=name, finished_outcome=outcome))

    assert len(seen) == 7
    assert finished.names("copied") == ["a-00100.safetensors"]
    assert finished.paths("copied", "/loras/x") == ["/loras/x/a-00100.safetensors"]
    assert finished.paths("skipped", None) == ["a-00200.safetensors"]
    assert finished.summary([], None) == (
        "1 file copied before the cancel (a-00100.safetensors), 1 already present, "
        "1 conflict left unchanged (a-00300.safetensors), 1 failed (a-final.safetensors); "
        "run the mover again to copy the rest"
    )
    assert FinishedFiles().summary([], "/loras/x") == (
        "0 files copied before the cancel; run the mover again to copy the rest into /loras/x"
    )


def test_interrupted_keeps_tool_message():
    own = ToolResult("lm", "a", Status.CANCELLED, "1 file copied before the cancel (a.safetensors)")
    bare = ToolResult("vg", "a", Status.CANCELLED, "cancelled")
    failed = ToolResult("do", "a", Status.FAILED, "agent exited with status -2")

    for result in (own, bare, failed):
        mark_interrupted(result)

    assert own.message == "1 file copied before the cancel (a.safetensors)"
    assert bare.message == "cancelled while running; run it again to finish"
    assert failed.status is Status.CANCELLED
    assert failed.message == "cancelled while running; run it again to finish"
    assert failed.details["error"] == "agent exited with status -2"
