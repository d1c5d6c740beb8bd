"""Grids on the pod get their final names without replacing a different file."""

from __future__ import annotations

import io
import json
from pathlib import Path

from ppdesk.core.grids.compose import numbered_path, publish_no_clobber, staging_path
from ppdesk.core.grids.dataset import op_dataset_grid
from ppdesk.core.grids.validation import op_validation_grid
from ppdesk.core.layout import WorkspaceLayout
from ppdesk.core.protocol import Emitter
from ppdesk.demo import build_demo_workspace

CONFIG = "sofia_001_lr1e-4"


def stage(final: Path, data: bytes) -> Path:
    staged = Path(staging_path(str(final)))
    staged.write_bytes(data)
    return staged


def test_numbered_path_keeps_suffix():
    assert numbered_path("/a/x-grid.jpg", 1) == "/a/x-grid.jpg"
    assert numbered_path("/a/x-grid.jpg", 3) == "/a/x-grid (3).jpg"


def test_publish_free_names(tmp_path):
    grid, sidecar = tmp_path / "g.jpg", tmp_path / "g.json"
    pairs = [(str(stage(grid, b"jpeg")), str(grid)), (str(stage(sidecar, b"{}")), str(sidecar))]
    assert publish_no_clobber(pairs) == [str(grid), str(sidecar)]
    assert grid.read_bytes() == b"jpeg"
    assert sidecar.read_bytes() == b"{}"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["g.jpg", "g.json"]


def test_publish_identical_reuses_names(tmp_path):
    grid = tmp_path / "g.jpg"
    grid.write_bytes(b"jpeg")
    assert publish_no_clobber([(str(stage(grid, b"jpeg")), str(grid))]) == [str(grid)]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["g.jpg"]


def test_publish_different_file_kept(tmp_path):
    grid, sidecar = tmp_path / "g.jpg", tmp_path / "g.json"
    grid.write_bytes(b"old jpeg")
    sidecar.write_bytes(b"{}")
    pairs = [(str(stage(grid, b"new jpeg")), str(grid)), (str(stage(sidecar, b"{}")), str(sidecar))]

    used = publish_no_clobber(pairs)

    # The pair moves together, so the unchanged sidecar is numbered too.
    assert used == [str(tmp_path / "g (2).jpg"), str(tmp_path / "g (2).json")]
    assert grid.read_bytes() == b"old jpeg"
    assert (tmp_path / "g (2).jpg").read_bytes() == b"new jpeg"
    assert not Path(pairs[0][0]).exists()


def run_op(op, workspace: Path, args: dict) -> dict:
    stream = io.StringIO()
    data = op(WorkspaceLayout.from_root(str(workspace)), args, Emitter(stream))
    return data


def test_validation_grid_keeps_planted_file(tmp_path):
    workspace = build_demo_workspace(tmp_path / "workspace")
    config_dir = workspace / "SimpleTuner" / "config" / CONFIG
    planted = config_dir / f"{CONFIG}-validation-grid.json"
    planted.write_text("MY NOTES")

    result = run_op(op_validation_grid, workspace, {"config": CONFIG})

    assert planted.read_text() == "MY NOTES"
    assert result["sidecar"] == str(config_dir / f"{CONFIG}-validation-grid (2).json")
    assert result["grid"] == str(config_dir / f"{CONFIG}-validation-grid (2).jpg")
    assert json.loads(Path(result["sidecar"]).read_text())["config"] == CONFIG
    assert not list(config_dir.glob(".*ppdesk-new"))


def test_validation_grid_rerun_reuses_name(tmp_path):
    workspace = build_demo_workspace(tmp_path / "workspace")
    config_dir = workspace / "SimpleTuner" / "config" / CONFIG
    first = run_op(op_validation_grid, workspace, {"config": CONFIG})
    before = sorted(path.name for path in config_dir.iterdir())

    second = run_op(op_validation_grid, workspace, {"config": CONFIG})

    assert second["grid"] == first["grid"]
    assert sorted(path.name for path in config_dir.iterdir()) == before


def test_dataset_grid_keeps_planted_file(tmp_path):
    workspace = build_demo_workspace(tmp_path / "workspace")
    config_dir = workspace / "SimpleTuner" / "config" / CONFIG
    planted = config_dir / f"{CONFIG}-dataset-grid.jpg"
    planted.write_bytes(b"not a grid")

    result = run_op(op_dataset_grid, workspace, {"config": CONFIG})

    assert planted.read_bytes() == b"not a grid"
    assert result["grid"] == str(config_dir / f"{CONFIG}-dataset-grid (2).jpg")
    assert Path(result["grid"]).read_bytes()[:2] == b"\xff\xd8"
