"""Validation grid sidecars that do not depend on where the workspace lives."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path
from typing import Any, Dict

import pytest

from ppdesk.core.grid_sources import op_list_samples
from ppdesk.core.grids.sidecar_paths import output_location, relative_source, same_grid_older_sidecar
from ppdesk.core.grids.validation import op_validation_grid
from ppdesk.core.layout import WorkspaceLayout
from ppdesk.core.protocol import Emitter
from ppdesk.demo import build_demo_workspace

CONFIG = "sofia_001_lr1e-4"
OUTPUT = f"SimpleTuner/output/{CONFIG}"


def run_grid(workspace: Path) -> Dict[str, Any]:
    return op_validation_grid(WorkspaceLayout.from_root(str(workspace)), {"config": CONFIG}, Emitter(io.StringIO()))


def config_dir(workspace: Path) -> Path:
    return workspace / "SimpleTuner" / "config" / CONFIG


def grid_names(workspace: Path) -> list:
    return sorted(path.name for path in config_dir(workspace).iterdir() if "validation-grid" in path.name)


def add_later_step(workspace: Path) -> None:
    """Copy the newest portrait sample as a later step, as more training would."""
    samples = workspace / "SimpleTuner" / "output" / CONFIG / "validation_images"
    newest = max(samples.glob("step_*_portrait_*"), key=lambda path: int(path.name.split("_")[1]))
    shutil.copyfile(newest, samples / newest.name.replace(newest.name.split("_")[1], "99999", 1))


def write_older_format(sidecar: Path, workspace: Path) -> None:
    """Rewrite ``sidecar`` as older versions wrote it: no "output" and absolute sources."""
    document = json.loads(sidecar.read_text(encoding="utf-8"))
    output = workspace / document.pop("output")
    for cell in document["cells"]:
        if cell["source"] is not None:
            cell["source"] = str(output / cell["source"])
    sidecar.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return build_demo_workspace(tmp_path / "ws")


def test_sidecar_has_no_absolute_path(workspace: Path):
    result = run_grid(workspace)
    text = Path(result["sidecar"]).read_text(encoding="utf-8")
    document = json.loads(text)

    assert str(workspace) not in text
    assert document["output"] == OUTPUT
    sources = [cell["source"] for cell in document["cells"] if cell["source"]]
    assert len(sources) == 12
    assert all(source.startswith("validation_images/step_") for source in sources)
    output = workspace / OUTPUT
    assert all((output / source).is_file() for source in sources)


def test_moved_workspace_reuses_grid(workspace: Path, tmp_path: Path):
    first = run_grid(workspace)
    moved = tmp_path / "pod"
    shutil.copytree(workspace, moved, symlinks=True)

    second = run_grid(moved)

    assert Path(second["grid"]) == config_dir(moved) / f"{CONFIG}-validation-grid.jpg"
    assert Path(second["sidecar"]) == config_dir(moved) / f"{CONFIG}-validation-grid.json"
    assert second["unchanged"] is True
    assert grid_names(moved) == [f"{CONFIG}-validation-grid.jpg", f"{CONFIG}-validation-grid.json"]
    assert Path(second["sidecar"]).read_bytes() == Path(first["sidecar"]).read_bytes()
    assert Path(second["grid"]).read_bytes() == Path(first["grid"]).read_bytes()


def test_moved_workspace_changed_grid_numbered(workspace: Path, tmp_path: Path):
    first = run_grid(workspace)
    moved = tmp_path / "pod"
    shutil.copytree(workspace, moved, symlinks=True)
    add_later_step(moved)

    second = run_grid(moved)

    assert Path(second["grid"]).name == f"{CONFIG}-validation-grid (2).jpg"
    assert Path(second["sidecar"]).name == f"{CONFIG}-validation-grid (2).json"
    assert second["unchanged"] is False
    assert second["rows"][0] == 99999
    kept = config_dir(moved) / f"{CONFIG}-validation-grid.jpg"
    assert kept.read_bytes() == Path(first["grid"]).read_bytes()


def test_rerun_reports_unchanged(workspace: Path):
    assert run_grid(workspace)["unchanged"] is False
    assert run_grid(workspace)["unchanged"] is True


def test_older_sidecar_of_same_grid_kept(workspace: Path, tmp_path: Path):
    first = run_grid(workspace)
    moved = tmp_path / "pod"
    shutil.copytree(workspace, moved, symlinks=True)
    old_sidecar = config_dir(moved) / f"{CONFIG}-validation-grid.json"
    write_older_format(old_sidecar, workspace)
    before = old_sidecar.read_bytes()

    second = run_grid(moved)

    assert Path(second["sidecar"]) == old_sidecar
    assert second["unchanged"] is True
    assert old_sidecar.read_bytes() == before
    assert grid_names(moved) == [f"{CONFIG}-validation-grid.jpg", f"{CONFIG}-validation-grid.json"]
    assert Path(first["grid"]).read_bytes() == Path(second["grid"]).read_bytes()


def test_older_sidecar_other_prompt_numbered(workspace: Path):
    run_grid(workspace)
    old_sidecar = config_dir(workspace) / f"{CONFIG}-validation-grid.json"
    write_older_format(old_sidecar, workspace)
    document = json.loads(old_sidecar.read_text(encoding="utf-8"))
    document["cells"][0]["prompt"] = "a prompt the new grid does not have"
    old_sidecar.write_text(json.dumps(document), encoding="utf-8")

    second = run_grid(workspace)

    assert Path(second["sidecar"]).name == f"{CONFIG}-validation-grid (2).json"
    assert second["unchanged"] is False


def test_older_sidecar_other_sample_differs(tmp_path: Path):
    new = {"config": "c", "output": "out", "cells": [{"x": 1, "source": "validation_images/step_1_a_8x8.png"}]}
    old = {"config": "c", "cells": [{"x": 1, "source": "/ws/out/validation_images/step_2_a_8x8.png"}]}
    same = {"config": "c", "cells": [{"x": 1, "source": "/ws/out/validation_images/step_1_a_8x8.png"}]}
    paths = {}
    for name, document in (("new", new), ("old", old), ("same", same), ("newer", new)):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(document), encoding="utf-8")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")

    assert same_grid_older_sidecar(str(paths["new"]), str(paths["same"]))
    assert not same_grid_older_sidecar(str(paths["new"]), str(paths["old"]))
    # Two sidecars in the current format are compared byte for byte only.
    assert not same_grid_older_sidecar(str(paths["new"]), str(paths["newer"]))
    assert not same_grid_older_sidecar(str(paths["new"]), str(tmp_path / "broken.json"))
    assert not same_grid_older_sidecar(str(paths["new"]), str(tmp_path / "missing.json"))


def test_output_location_inside_and_outside(tmp_path: Path):
    root = tmp_path / "ws"
    inside = root / "SimpleTuner" / "output" / "a"

    assert output_location(str(inside), str(root)) == "SimpleTuner/output/a"
    assert output_location(str(root), str(root)) == "."
    assert output_location(str(tmp_path / "elsewhere" / "a"), str(root)) == str(tmp_path / "elsewhere" / "a")
    # A sibling folder whose name starts like the root is outside it.
    assert output_location(str(tmp_path / "ws2" / "a"), str(root)) == str(tmp_path / "ws2" / "a")
    assert output_location(str(inside), None) == str(inside)


def test_relative_source_inside_and_outside(tmp_path: Path):
    output = tmp_path / "out"
    sample = output / "validation_images" / "step_1_a_8x8.png"

    assert relative_source(str(sample), str(output)) == "validation_images/step_1_a_8x8.png"
    assert relative_source(str(tmp_path / "x.png"), str(output)) == str(tmp_path / "x.png")


def test_output_outside_root_stays_absolute(workspace: Path, tmp_path: Path):
    outside = tmp_path / "outputs" / CONFIG
    shutil.move(str(workspace / OUTPUT), str(outside))
    config_file = config_dir(workspace) / "config.json"
    settings = json.loads(config_file.read_text(encoding="utf-8"))
    settings["output_dir"] = str(outside)
    config_file.write_text(json.dumps(settings), encoding="utf-8")

    result = run_grid(workspace)
    document = json.loads(Path(result["sidecar"]).read_text(encoding="utf-8"))

    assert document["output"] == str(outside)
    assert all(not os.path.isabs(cell["source"]) for cell in document["cells"] if cell["source"])


def test_list_samples_names_output_location(workspace: Path):
    listing = op_list_samples(WorkspaceLayout.from_root(str(workspace)), {"config": CONFIG}, Emitter(io.StringIO()))

    assert listing["output_location"] == OUTPUT
    assert listing["output"] == str(workspace / OUTPUT)
