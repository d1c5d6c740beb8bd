"""Checkpoints and final weights in a SimpleTuner output folder.

SimpleTuner saves ``checkpoint-<global step>`` folders into the output folder
and renames a save in progress from ``checkpoint-<N>-tmp`` when it is done.
Newer versions also write a ``.guard`` file into each finished checkpoint, so
once any checkpoint of an output has one, a checkpoint without it is treated
as unfinished. Final weights are written straight into the output folder.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from typing import List, Optional

log = logging.getLogger(__name__)

# Weight file names, most preferred first: LoRA, PEFT adapter, full model, EMA.
WEIGHT_NAMES = (
    "pytorch_lora_weights.safetensors",
    "adapter_model.safetensors",
    "model.safetensors",
    "diffusion_pytorch_model.safetensors",
    "ema_model.safetensors",
)

GUARD_FILE = ".guard"

# Matches finished saves only, so "checkpoint-500-tmp" and "checkpoint-latest" do not match.
_CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")


@dataclass
class Checkpoint:
    """One ``checkpoint-<step>`` folder.

    ``weights`` are absolute paths of the weight files present, in
    ``WEIGHT_NAMES`` order. ``reason`` is the explanation shown for an
    incomplete checkpoint, and None for a complete one.
    """

    step: int
    path: str
    complete: bool
    weights: List[str] = field(default_factory=list)
    has_guard: bool = False
    reason: Optional[str] = None


def weight_files(folder: str) -> List[str]:
    """Return the absolute paths of the weight files directly in ``folder``, in preference order."""
    found = []
    for name in WEIGHT_NAMES:
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            found.append(os.path.abspath(candidate))
    return found


def final_weights(output_dir: str) -> List[str]:
    """Return the weight files in the output folder itself (the weights saved when training ended)."""
    if not os.path.isdir(output_dir):
        return []
    return weight_files(output_dir)


def list_checkpoints(output_dir: str) -> List[Checkpoint]:
    """List the checkpoints of an output folder in ascending step order.

    Steps compare as numbers, so checkpoint-900 comes before checkpoint-1000.
    ``-tmp`` folders and other names are ignored. A checkpoint is incomplete
    when it has no weight file, or when it lacks ``.guard`` while another
    checkpoint of the same output has one. A missing output folder gives an
    empty list; an unreadable one raises OSError.
    """
    if not os.path.isdir(output_dir):
        return []

    checkpoints: List[Checkpoint] = []
    with os.scandir(output_dir) as entries:
        for entry in entries:
            match = _CHECKPOINT_NAME.match(entry.name)
            if match is None or not entry.is_dir():
                continue
            checkpoints.append(
                Checkpoint(
                    step=int(match.group(1)),
                    path=os.path.abspath(entry.path),
                    complete=False,
                    weights=weight_files(entry.path),
                    has_guard=os.path.isfile(os.path.join(entry.path, GUARD_FILE)),
                )
            )
    checkpoints.sort(key=lambda checkpoint: checkpoint.step)

    guards_in_use = any(checkpoint.has_guard for checkpoint in checkpoints)
    for checkpoint in checkpoints:
        checkpoint.reason = _incomplete_reason(checkpoint, guards_in_use)
        checkpoint.complete = checkpoint.reason is None
    return checkpoints


def _incomplete_reason(checkpoint: Checkpoint, guards_in_use: bool) -> Optional[str]:
    reasons = []
    if guards_in_use and not checkpoint.has_guard:
        reasons.append(f"no {GUARD_FILE} file although other checkpoints have one, so the save did not finish")
    if not checkpoint.weights:
        reasons.append("no weight file (expected one of " + ", ".join(WEIGHT_NAMES) + ")")
    return "; ".join(reasons) or None


def newest_complete(checkpoints: List[Checkpoint]) -> Optional[Checkpoint]:
    """Return the complete checkpoint with the highest step, or None when none is complete."""
    complete = [checkpoint for checkpoint in checkpoints if checkpoint.complete]
    if not complete:
        return None
    return max(complete, key=lambda checkpoint: checkpoint.step)
