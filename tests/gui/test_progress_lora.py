"""The progress panel during a real LoRA mover run that copies a 128 MiB checkpoint."""

from __future__ import annotations

import random
from pathlib import Path
from typing import List

from ppdesk.cancel import CancelToken
from ppdesk.core.safe_copy import CHUNK
from ppdesk.demo import build_demo_workspace
from ppdesk.gui.progress import ProgressPanel
from ppdesk.remote.local import LocalTransport
from ppdesk.tools.base import ProgressEvent, Status, ToolContext
from ppdesk.tools.lora_mover import LoraMover
from ppdesk.tools.workspace import scan_workspace
from ppdesk.units import format_bytes

CONFIG = "sofia_001_lr1e-4"
LARGE_SIZE = 128 * 1024 * 1024
# Random bytes at the start, middle and end of the otherwise sparse checkpoint.
MARK = 64 * 1024


def weight_files(root: Path) -> List[Path]:
    """Return CONFIG's weight files: three checkpoints, then the final weights."""
    output = root / "SimpleTuner" / "output" / CONFIG
    steps = [output / f"checkpoint-{step}" / "pytorch_lora_weights.safetensors" for step in (100, 200, 300)]
    return steps + [output / "pytorch_lora_weights.safetensors"]


def make_sparse(path: Path, size: int) -> None:
    rng = random.Random(size)
    with path.open("wb") as handle:
        handle.truncate(size)
        for offset in (0, size // 2, size - MARK):
            handle.seek(offset)
            handle.write(rng.randbytes(MARK))


def test_mover_progress_says_copying(qtbot, tmp_path: Path):
    root = build_demo_workspace(tmp_path / "workspace")
    make_sparse(weight_files(root)[0], LARGE_SIZE)
    total = sum(path.stat().st_size for path in weight_files(root))
    transport = LocalTransport.for_root(root)
    [config] = scan_workspace(transport).select(None, CONFIG)
    panel = ProgressPanel(titles={"lm": "LoRA mover"}, show_delay_ms=0)
    qtbot.addWidget(panel)
    panel.begin("LoRA mover", steps=1)
    texts: List[str] = []

    # The mover runs on this thread, so the panel gets each event as the GUI's worker signal would bring it.
    def on_progress(event: ProgressEvent) -> None:
        panel.update_progress(event)
        if event.unit == "bytes":
            texts.append(panel.stats_label.text())

    ctx = ToolContext(transport=transport, dest=tmp_path / "dest", progress=on_progress, cancel=CancelToken())
    # A line per 64 KiB chunk, so the count of lines does not depend on the machine's speed.
    result = LoraMover(progress_interval=0).run(ctx, config)
    transport.close()

    assert result.status is Status.OK
    # Byte lines for the chunks of the large file, then one per finished file.
    assert len(texts) > 4
    assert texts[0].startswith(f"Copying to the loras folder: {format_bytes(CHUNK)} of {format_bytes(total)}")
    assert texts[-1].startswith(f"Copying to the loras folder: {format_bytes(total)} of {format_bytes(total)}")
    assert all(text.startswith("Copying to the loras folder: ") for text in texts)
    assert not any("Downloading" in text for text in texts)
    assert panel.title_label.text() == f"LoRA mover: {CONFIG}"
    assert panel.overall_bar.value() == 1000
