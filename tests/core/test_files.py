"""Download planning and hashing on the pod side, on real folders."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest

from ppdesk.core.checkpoints import WEIGHT_NAMES
from ppdesk.core.files import (
    HASH_CHUNK,
    op_hash_files,
    op_plan_download,
    plan_output_files,
    plan_tree,
)
from ppdesk.core.layout import WorkspaceLayout
from ppdesk.core.protocol import AgentFailure, Emitter

STATE_FILES = ("optimizer.bin", "scheduler.bin", "random_states_0.pkl", "training_state.json")


def write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_checkpoint(output: Path, name: str, weights: bytes = b"weights") -> Path:
    folder = output / name
    write(folder / "pytorch_lora_weights.safetensors", weights)
    for state in STATE_FILES:
        write(folder / state, b"state")
    return folder


def make_output(output: Path) -> None:
    write(output / "pytorch_lora_weights.safetensors", b"final weights")
    write(output / "training_metrics.jsonl", b"{}\n")
    write(output / "logs" / "train.log", b"log")
    write(output / "validation_images" / "step_100_cat_1024x1024.png", b"png")
    make_checkpoint(output, "checkpoint-100", b"w100")
    make_checkpoint(output, "checkpoint-200", b"w200")
    write(output / "checkpoint-300-tmp" / "pytorch_lora_weights.safetensors", b"w300")


def rels(files) -> list[str]:
    return [entry["rel"] for entry in files]


def test_plan_tree_lists_every_file(tmp_path: Path):
    write(tmp_path / "config.json", b"{}")
    write(tmp_path / "sub" / "deeper" / "a.txt", b"abc")
    files, skipped = plan_tree(str(tmp_path))
    assert rels(files) == ["config.json", "sub/deeper/a.txt"]
    assert skipped == []
    entry = files[1]
    assert entry["path"] == str(tmp_path / "sub" / "deeper" / "a.txt")
    assert entry["size"] == 3
    assert entry["mtime"] == os.stat(tmp_path / "sub" / "deeper" / "a.txt").st_mtime
    assert entry["sha256"] is None


def test_plan_output_keeps_newest_checkpoint_weights_only(tmp_path: Path):
    output = tmp_path / "out"
    make_output(output)
    files, skipped = plan_output_files(str(output), str(output / "checkpoint-200"), WEIGHT_NAMES)
    assert sorted(rels(files)) == [
        "checkpoint-200/pytorch_lora_weights.safetensors",
        "logs/train.log",
        "pytorch_lora_weights.safetensors",
        "training_metrics.jsonl",
        "validation_images/step_100_cat_1024x1024.png",
    ]
    reasons = {entry["rel"]: entry["reason"] for entry in skipped}
    assert reasons["checkpoint-100"] == "not the newest complete checkpoint"
    assert reasons["checkpoint-300-tmp"] == "not the newest complete checkpoint"
    for state in STATE_FILES:
        assert reasons[f"checkpoint-200/{state}"] == "training state, not weights"


def test_plan_output_without_checkpoint(tmp_path: Path):
    output = tmp_path / "out"
    make_output(output)
    files, _ = plan_output_files(str(output), None, WEIGHT_NAMES)
    assert not any(rel.startswith("checkpoint-") for rel in rels(files))


def test_nested_checkpoint_name_is_ordinary_folder(tmp_path: Path):
    output = tmp_path / "out"
    write(output / "samples" / "checkpoint-5" / "note.txt")
    files, _ = plan_output_files(str(output), None, WEIGHT_NAMES)
    assert rels(files) == ["samples/checkpoint-5/note.txt"]


def test_symlinks_outside_root_are_skipped(tmp_path: Path):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    write(outside / "secret.txt", b"secret")
    write(root / "real.txt", b"real")
    os.symlink(outside / "secret.txt", root / "file-link")
    os.symlink(outside, root / "folder-link")
    os.symlink(root / "real.txt", root / "inside-link")
    os.symlink(tmp_path / "missing", root / "dangling")
    files, skipped = plan_tree(str(root))
    assert rels(files) == ["inside-link", "real.txt"]
    reasons = {entry["rel"]: entry["reason"] for entry in skipped}
    assert set(reasons) == {"file-link", "folder-link", "dangling"}
    assert "outside" in reasons["file-link"]
    assert str(outside) in reasons["folder-link"]


def test_symlink_loop_is_skipped(tmp_path: Path):
    root = tmp_path / "root"
    write(root / "sub" / "a.txt")
    os.symlink(root, root / "sub" / "back")
    files, skipped = plan_tree(str(root))
    assert rels(files) == ["sub/a.txt"]
    assert [entry["rel"] for entry in skipped] == ["sub/back"]
    assert "loop" in skipped[0]["reason"]


def test_root_reached_through_symlink(tmp_path: Path):
    real = tmp_path / "volume" / "out"
    write(real / "a.txt")
    os.symlink(real, tmp_path / "linked")
    files, skipped = plan_tree(str(tmp_path / "linked"))
    assert rels(files) == ["a.txt"]
    assert skipped == []


def test_fifo_is_skipped(tmp_path: Path):
    os.mkfifo(tmp_path / "pipe")
    files, skipped = plan_tree(str(tmp_path))
    assert files == []
    assert skipped == [{"rel": "pipe", "reason": "not a regular file"}]


def test_undecodable_name_survives_json(tmp_path: Path):
    raw = os.fsencode(tmp_path) + b"/caf\xe9.txt"
    with open(raw, "wb") as handle:
        handle.write(b"x")
    files, _ = plan_tree(str(tmp_path))
    text = json.dumps(files, ensure_ascii=True)
    decoded = json.loads(text)
    assert os.fsencode(decoded[0]["path"]) == raw
    assert decoded[0]["rel"] == os.fsdecode(b"caf\xe9.txt")


# --- the operations, on a workspace built from the fixtures ---


@pytest.fixture
def workspace(tmp_path: Path, copy_fixture) -> WorkspaceLayout:
    root = tmp_path / "workspace"
    copy_fixture("simpletuner/flux.peft-lora", root / "SimpleTuner" / "config" / "flux.peft-lora")
    make_output(root / "SimpleTuner" / "output" / "examples" / "flux.peft-lora")
    return WorkspaceLayout.from_root(str(root))


def run_op(op, layout, args):
    stream = io.StringIO()
    data = op(layout, args, Emitter(stream))
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return data, lines


def test_op_plan_output(workspace: WorkspaceLayout):
    data, lines = run_op(op_plan_download, workspace, {"config": "flux.peft-lora", "kind": "output"})
    output = os.path.join(workspace.output_dir, "examples", "flux.peft-lora")
    assert data["root"] == output
    by_rel = {entry["rel"]: entry for entry in data["files"]}
    assert "checkpoint-200/pytorch_lora_weights.safetensors" in by_rel
    assert "checkpoint-100/pytorch_lora_weights.safetensors" not in by_rel
    assert by_rel["checkpoint-200/pytorch_lora_weights.safetensors"]["sha256"] == hashlib.sha256(b"w200").hexdigest()
    assert by_rel["pytorch_lora_weights.safetensors"]["sha256"] == hashlib.sha256(b"final weights").hexdigest()
    assert by_rel["logs/train.log"]["sha256"] is None
    assert lines[-1]["type"] == "progress"
    assert lines[-1]["done"] == lines[-1]["total"] == len(b"w200") + len(b"final weights")


def test_op_plan_output_uses_checkpoint_rules(workspace: WorkspaceLayout):
    # Once one checkpoint has a .guard file, those without one count as
    # unfinished, so checkpoint-100 becomes the newest complete checkpoint.
    output = Path(workspace.output_dir) / "examples" / "flux.peft-lora"
    write(output / "checkpoint-100" / ".guard", b"")
    data, _ = run_op(op_plan_download, workspace, {"config": "flux.peft-lora", "kind": "output"})
    files = rels(data["files"])
    assert "checkpoint-100/pytorch_lora_weights.safetensors" in files
    assert "checkpoint-200/pytorch_lora_weights.safetensors" not in files


def test_op_plan_config(workspace: WorkspaceLayout):
    data, _ = run_op(op_plan_download, workspace, {"config": "flux.peft-lora", "kind": "config"})
    assert data["root"] == os.path.join(workspace.config_dir, "flux.peft-lora")
    assert rels(data["files"]) == ["config.json"]


@pytest.mark.parametrize(
    "args",
    [{}, {"config": "flux.peft-lora"}, {"config": "flux.peft-lora", "kind": "everything"}, {"config": 3, "kind": "output"}],
)
def test_op_plan_rejects_bad_args(workspace: WorkspaceLayout, args):
    with pytest.raises(AgentFailure) as info:
        run_op(op_plan_download, workspace, args)
    assert info.value.kind == "invalid_request"


def test_op_plan_unknown_config(workspace: WorkspaceLayout):
    with pytest.raises(AgentFailure) as info:
        run_op(op_plan_download, workspace, {"config": "nope", "kind": "output"})
    assert info.value.kind == "not_found"


def test_op_plan_missing_output(workspace: WorkspaceLayout):
    output = Path(workspace.output_dir) / "examples" / "flux.peft-lora"
    for path in sorted(output.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    output.rmdir()
    with pytest.raises(AgentFailure) as info:
        run_op(op_plan_download, workspace, {"config": "flux.peft-lora", "kind": "output"})
    assert info.value.kind == "not_found"


def test_op_hash_files(tmp_path: Path):
    data = os.urandom(HASH_CHUNK * 2 + 7)
    first = write(tmp_path / "a.bin", data)
    second = write(tmp_path / "b.bin", b"")
    result, lines = run_op(op_hash_files, WorkspaceLayout.from_root(str(tmp_path)), {"paths": [str(first), str(second)]})
    assert result == {str(first): hashlib.sha256(data).hexdigest(), str(second): hashlib.sha256(b"").hexdigest()}
    assert lines[-1]["done"] == len(data)


def test_op_hash_files_missing(tmp_path: Path):
    with pytest.raises(AgentFailure) as info:
        run_op(op_hash_files, WorkspaceLayout.from_root(str(tmp_path)), {"paths": [str(tmp_path / "gone.bin")]})
    assert info.value.kind == "not_found"
    assert "gone.bin" in info.value.message


def test_op_hash_files_rejects_bad_args(tmp_path: Path):
    with pytest.raises(AgentFailure) as info:
        run_op(op_hash_files, WorkspaceLayout.from_root(str(tmp_path)), {"paths": "a.bin"})
    assert info.value.kind == "invalid_request"


def test_hash_progress_lines_carry_bytes_unit(tmp_path):
    import io
    import json

    from ppdesk.core.files import op_hash_files
    from ppdesk.core.layout import WorkspaceLayout
    from ppdesk.core.protocol import Emitter

    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"\0" * 3000)
    stream = io.StringIO()
    op_hash_files(WorkspaceLayout.from_root(str(tmp_path)), {"paths": [str(weights)]}, Emitter(stream))
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    progress = [line for line in lines if line["type"] == "progress"]
    assert progress
    assert progress[-1]["unit"] == "bytes"
    assert progress[-1]["phase"] == "hashing"
    assert progress[-1]["done"] == 3000
