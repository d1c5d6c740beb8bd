"""Shared pieces of the lm tool tests on a workspace with one 128 MiB checkpoint."""

from __future__ import annotations

import hashlib
import os
import random
import time
from pathlib import Path
from typing import Callable, List, Optional

import pytest
from helpers.sshd_server import children_of

from ppdesk.cancel import CancelToken
from ppdesk.core.safe_copy import CHUNK
from ppdesk.demo import build_demo_workspace
from ppdesk.remote.transport import Transport
from ppdesk.tools.base import ProgressEvent, ToolContext, ToolResult
from ppdesk.tools.lora_mover import LoraMover
from ppdesk.tools.workspace import scan_workspace

CONFIG = "sofia_001_lr1e-4"
LARGE_SIZE = 128 * 1024 * 1024
# Random bytes written at the start, middle and end of the otherwise sparse large file.
MARK = 64 * 1024
# Upper limit for waiting on a process or a thread; only reached when a test fails.
WAIT_LIMIT = 60.0


def build_large_workspace(root: Path) -> Path:
    """Write the demo workspace with CONFIG's checkpoint-100, the first file the mover copies, made large."""
    build_demo_workspace(root)
    write_large_weights(sources(root)[0])
    return root


def write_large_weights(path: Path, size: int = LARGE_SIZE) -> Path:
    """Write a sparse file of ``size`` bytes with random marks, so that offsets matter."""
    rng = random.Random(size)
    with path.open("wb") as handle:
        handle.truncate(size)
        for offset in (0, size // 2, size - MARK):
            handle.seek(offset)
            handle.write(rng.randbytes(MARK))
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def sources(root: Path) -> List[Path]:
    """Return CONFIG's weight files in the order the mover copies them."""
    output = root / "SimpleTuner" / "output" / CONFIG
    steps = [output / f"checkpoint-{step}" / "pytorch_lora_weights.safetensors" for step in (100, 200, 300)]
    return steps + [output / "pytorch_lora_weights.safetensors"]


def lora_folder(root: Path) -> Path:
    return root / "ComfyUI" / "models" / "loras" / "flux" / "sofia" / CONFIG


def process_ended(pid: int) -> bool:
    """Return whether ``pid`` exited: gone, or a zombie that its parent has not reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def wait_for_exit(pid: int) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while not process_ended(pid):
        if time.monotonic() > deadline:
            pytest.fail(f"process {pid} still runs after {WAIT_LIMIT} s")
        time.sleep(0.02)


def local_agents() -> List[int]:
    """Return the pids of the running LocalTransport agent processes of this test process."""
    found = []
    for pid in children_of(os.getpid()):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"ppdesk.core" in command and not process_ended(pid):
            found.append(pid)
    return found


def run_mover(
    transport: Transport,
    dest: Path,
    on_progress: Callable[[ProgressEvent], None] = lambda event: None,
    cancel: Optional[CancelToken] = None,
) -> ToolResult:
    """Scan, then run the lm tool on CONFIG with a progress line for every chunk."""
    [config] = scan_workspace(transport).select(None, CONFIG)
    ctx = ToolContext(transport=transport, dest=dest, progress=on_progress, cancel=cancel or CancelToken())
    return LoraMover(progress_interval=0).run(ctx, config)


def check_byte_progress(events: List[ProgressEvent], root: Path) -> None:
    """Assert the progress of a mover run on a workspace from build_large_workspace."""
    total = sum(path.stat().st_size for path in sources(root))
    counted = [event for event in events if event.total]
    done = [event.done for event in counted]

    assert all(event.unit == "bytes" and event.phase == "copying" for event in counted)
    assert all(event.total == total for event in counted)
    # A line per chunk of the large file but its last, and one per file.
    assert len(counted) == LARGE_SIZE // CHUNK - 1 + 4
    assert done == sorted(done)
    assert len(set(done)) == len(done)
    assert done[0] == CHUNK
    assert done[-1] == total
    assert counted[0].message == "copying sofia_001_lr1e-4-00100.safetensors: 64.0 KiB of 128.0 MiB"
    assert counted[-1].message == "copied sofia_001_lr1e-4-final.safetensors"
