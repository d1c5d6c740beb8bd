"""The pod-side LoRA mover (core/loras.py) and the lm tool on a demo workspace."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from ppdesk.core.layout import WorkspaceLayout
from ppdesk.core.loras import op_move_loras, place_file
from ppdesk.core.protocol import AgentFailure, Emitter
from ppdesk.demo import build_demo_workspace
from ppdesk.remote.local import LocalTransport
from ppdesk.tools.base import Status, ToolContext
from ppdesk.tools.lora_mover import LoraMover
from ppdesk.tools.workspace import scan_workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return build_demo_workspace(tmp_path / "ws")


def _move(root: Path, config: str) -> tuple[dict, list[dict]]:
    stream = io.StringIO()
    data = op_move_loras(WorkspaceLayout.from_root(str(root)), {"config": config}, Emitter(stream))
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return data, lines


def _loras(root: Path) -> Path:
    return root / "ComfyUI" / "models" / "loras"


def test_names_and_bytes(workspace: Path):
    data, lines = _move(workspace, "sofia_001_lr1e-4")
    folder = _loras(workspace) / "flux" / "sofia" / "sofia_001_lr1e-4"
    expected = [f"sofia_001_lr1e-4-{step:05d}.safetensors" for step in (100, 200, 300)]
    expected.append("sofia_001_lr1e-4-final.safetensors")
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)
    assert data["copied"] == [str(folder / name) for name in expected]
    output = workspace / "SimpleTuner" / "output" / "sofia_001_lr1e-4"
    assert (folder / "sofia_001_lr1e-4-00200.safetensors").read_bytes() == (
        output / "checkpoint-200" / "pytorch_lora_weights.safetensors"
    ).read_bytes()
    assert (folder / "sofia_001_lr1e-4-final.safetensors").read_bytes() == (
        output / "pytorch_lora_weights.safetensors"
    ).read_bytes()
    assert [line["done"] for line in lines if line["type"] == "progress"] == [1, 2, 3, 4]


def test_tmp_checkpoint_not_moved(workspace: Path):
    data, _ = _move(workspace, "sofia_001_lr1e-4")
    assert not any("00400" in path for path in data["copied"])


def test_unguarded_checkpoint_not_moved(workspace: Path):
    data, _ = _move(workspace, "sofia_002_lr5e-5")
    folder = _loras(workspace) / "flux" / "sofia" / "sofia_002_lr5e-5"
    assert sorted(p.name for p in folder.iterdir()) == [
        "sofia_002_lr5e-5-00250.safetensors",
        "sofia_002_lr5e-5-00500.safetensors",
    ]
    assert data["errors"] == []


def test_no_model_family_goes_to_other(workspace: Path):
    data, _ = _move(workspace, "max_002_env")
    assert data["copied"] == [str(_loras(workspace) / "other" / "max" / "max_002_env" / "max_002_env-00300.safetensors")]


def test_rerun_copies_nothing(workspace: Path):
    first, _ = _move(workspace, "sofia_001_lr1e-4")
    folder = _loras(workspace) / "flux" / "sofia" / "sofia_001_lr1e-4"
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    second, _ = _move(workspace, "sofia_001_lr1e-4")
    assert second["copied"] == []
    assert second["skipped"] == first["copied"]
    assert second["conflicts"] == []
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


def test_different_file_is_conflict(workspace: Path):
    folder = _loras(workspace) / "flux" / "sofia" / "sofia_001_lr1e-4"
    folder.mkdir(parents=True)
    planted = folder / "sofia_001_lr1e-4-00200.safetensors"
    planted.write_bytes(b"someone else's LoRA")
    data, _ = _move(workspace, "sofia_001_lr1e-4")
    assert planted.read_bytes() == b"someone else's LoRA"
    assert len(data["conflicts"]) == 1
    assert data["conflicts"][0]["dest"] == str(planted)
    assert data["conflicts"][0]["source"].endswith(os.path.join("checkpoint-200", "pytorch_lora_weights.safetensors"))
    assert len(data["copied"]) == 3


def test_no_temporary_files_left(workspace: Path):
    _move(workspace, "sofia_001_lr1e-4")
    leftovers = [p for p in _loras(workspace).rglob("*") if "ppdesk-tmp" in p.name]
    assert leftovers == []


def test_unknown_config_fails(workspace: Path):
    with pytest.raises(AgentFailure) as caught:
        _move(workspace, "nobody_001")
    assert caught.value.kind == "not_found"


def test_missing_output_fails(workspace: Path):
    with pytest.raises(AgentFailure) as caught:
        _move(workspace, "examples/demo.peft-lora")
    assert caught.value.kind == "no_output"


def test_place_file_never_replaces(tmp_path: Path):
    source = tmp_path / "a.safetensors"
    source.write_bytes(b"new bytes")
    dest = tmp_path / "out" / "b.safetensors"
    dest.parent.mkdir()
    assert place_file(str(source), str(dest)) == "copied"
    assert place_file(str(source), str(dest)) == "skipped"
    source.write_bytes(b"other bytes")
    assert place_file(str(source), str(dest)) == "conflict"
    assert dest.read_bytes() == b"new bytes"


def test_tool_reports_conflict_as_warning(workspace: Path, tmp_path: Path):
    transport = LocalTransport.for_root(workspace)
    scan = scan_workspace(transport)
    [config] = scan.select(None, "sofia_001_lr1e-4")
    folder = _loras(workspace) / "flux" / "sofia" / "sofia_001_lr1e-4"
    folder.mkdir(parents=True)
    (folder / "sofia_001_lr1e-4-final.safetensors").write_bytes(b"different")

    result = LoraMover().run(ToolContext(transport=transport, dest=tmp_path / "dest"), config)
    assert result.status is Status.WARNING
    assert len(result.remote_files) == 3
    assert len(result.details["conflicts"]) == 1
    assert "1 conflict" in result.message


def test_tool_skips_config_without_output(workspace: Path, tmp_path: Path):
    transport = LocalTransport.for_root(workspace)
    [config] = scan_workspace(transport).select(None, "examples/demo.peft-lora")
    result = LoraMover().run(ToolContext(transport=transport, dest=tmp_path / "dest"), config)
    assert result.status is Status.SKIPPED
    assert "no output folder" in result.message
