"""Every tool run twice, with different files planted at destination names: nothing is overwritten."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from ppdesk.cancel import CancelToken
from ppdesk.tools.base import Status, ToolContext
from ppdesk.tools.postprocess import PostProcess
from ppdesk.tools.validation_grid import ValidationGrid
from ppdesk.tools.workspace import scan_workspace

PLANTED = b"a file the user made; ppdesk must not touch it\n"


def _snapshot(paths: List[Path]) -> Dict[Path, Tuple[bytes, int]]:
    return {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in paths}


def _plant(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PLANTED)
    return path


def _all_files(root: Path) -> Dict[Path, Tuple[bytes, int]]:
    return _snapshot([path for path in root.rglob("*") if path.is_file()])


@pytest.mark.ssh
def test_rerun_overwrites_nothing(make_transport, tmp_path):
    from ppdesk.demo import build_demo_workspace

    root = build_demo_workspace(tmp_path / "ws")
    transport = make_transport(root)
    configs = [config for config in scan_workspace(transport, CancelToken()).configs if config.output_exists]
    config = next(config for config in configs if config.checkpoints and config.validation_samples and config.datasets)
    dest = tmp_path / "dest"
    last = config.name.rsplit("/", 1)[-1]
    loras = Path(transport.layout.loras_dir) / (config.model_family or "other") / config.family / last
    step = config.checkpoints[-1]
    planted = [
        _plant(loras / f"{last}-{step:05d}.safetensors"),
        _plant(dest / config.name / "config" / Path(config.config_file).name),
        _plant(dest / config.name / "output" / f"checkpoint-{step}" / "pytorch_lora_weights.safetensors"),
        _plant(dest / config.name / "grids" / f"{last}-validation-grid.jpg"),
        _plant(dest / config.name / "grids" / f"{last}-dataset-grid.jpg"),
    ]
    before = _snapshot(planted)

    ctx = ToolContext(transport=transport, dest=dest)
    first = {result.tool: result for result in PostProcess().run(ctx, [config])}
    local_after_first = _all_files(dest)
    pod_after_first = _all_files(loras)
    second = {result.tool: result for result in PostProcess().run(ctx, [config])}

    assert _snapshot(planted) == before
    # The planted files are reported, the rest arrived.
    assert first["lm"].status == Status.WARNING
    assert len(first["lm"].details["conflicts"]) == 1
    for key in ("dc", "do"):
        assert first[key].status == Status.WARNING, first[key].message
        assert len(first[key].details["conflicts"]) == 1
        assert "kept" in first[key].message
    for key in ("vg", "dg"):
        assert first[key].status == Status.WARNING, first[key].message
        assert "(2)" in first[key].message
        assert first[key].details["local_names"][0].endswith(" (2).jpg")
    # The second run changes no file, locally or on the pod, and skips the identical ones.
    assert _all_files(dest) == local_after_first
    assert _all_files(loras) == pod_after_first
    assert second["lm"].details["copied"] == []
    for key in ("dc", "do"):
        assert second[key].details["downloaded"] == []
        assert len(second[key].details["skipped"]) == len(first[key].details["downloaded"])
    for key in ("vg", "dg"):
        assert second[key].details["local_names"] == first[key].details["local_names"]


@pytest.mark.ssh
def test_changed_grid_saved_beside_old(make_transport, tmp_path):
    """After more training the new grid gets the next numbered name; the old one stays untouched."""
    from ppdesk.demo import build_demo_workspace

    root = build_demo_workspace(tmp_path / "ws")
    transport = make_transport(root)
    scan = scan_workspace(transport, CancelToken())
    config = next(config for config in scan.configs if config.validation_samples)
    dest = tmp_path / "dest"
    ctx = ToolContext(transport=transport, dest=dest)
    grids = dest / config.name / "grids"
    last = config.name.rsplit("/", 1)[-1]

    first = ValidationGrid().run(ctx, config)
    assert first.status in (Status.OK, Status.WARNING), first.message
    original = _all_files(grids)

    # "More training": a later step's samples appear on the pod.
    samples = Path(config.output) / "validation_images"
    for path in sorted(samples.iterdir()):
        if path.name.startswith("step_"):
            newest = path
    name_parts = newest.name.split("_", 2)
    shutil.copy(newest, samples / f"step_999999_{name_parts[2]}")
    second = ValidationGrid().run(ctx, config)
    third = ValidationGrid().run(ctx, config)

    assert {path: value for path, value in _all_files(grids).items() if path in original} == original
    assert second.details["local_names"] == [f"{last}-validation-grid (2).jpg", f"{last}-validation-grid (2).json"]
    assert f"{last}-validation-grid (2).jpg" in second.message
    assert (grids / f"{last}-validation-grid (2).jpg").read_bytes() != (grids / f"{last}-validation-grid.jpg").read_bytes()
    # A rerun without changes finds the (2) files identical and writes no (3).
    assert third.details["local_names"] == second.details["local_names"]
    assert not (grids / f"{last}-validation-grid (3).jpg").exists()
    assert sorted(os.listdir(grids)) == sorted(
        [f"{last}-validation-grid.jpg", f"{last}-validation-grid.json",
         f"{last}-validation-grid (2).jpg", f"{last}-validation-grid (2).json"]
    )
