"""``ppdesk pp`` as a subprocess on the demo workspace and on one built from real SimpleTuner configs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from ppdesk.demo import build_demo_workspace, safetensors_bytes

REPO = Path(__file__).resolve().parents[1]


def run_pp(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["XDG_CACHE_HOME"] = str(home / "cache")
    env["XDG_STATE_HOME"] = str(home / "state")
    return subprocess.run(
        [sys.executable, "-m", "ppdesk", "pp", *args], capture_output=True, text=True, env=env, cwd=home, timeout=600
    )


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_demo_family(tmp_path: Path):
    workspace = build_demo_workspace(tmp_path / "ws")
    dest = tmp_path / "dest"
    completed = run_pp("--workspace", str(workspace), "--family", "sofia", "--dest", str(dest), "--json", home=tmp_path)
    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout)
    assert len(results) == 15
    assert [r["tool"] for r in results[:5]] == ["lm", "vg", "dg", "dc", "do"]
    assert {r["status"] for r in results} <= {"ok", "warning"}

    config_dir = workspace / "SimpleTuner" / "config" / "sofia_002_lr5e-5"
    output_dir = workspace / "SimpleTuner" / "output" / "sofia_002_lr5e-5"
    local = dest / "sofia_002_lr5e-5"

    grids = _files(local / "grids")
    assert grids == [
        "sofia_002_lr5e-5-dataset-grid.jpg",
        "sofia_002_lr5e-5-validation-grid.jpg",
        "sofia_002_lr5e-5-validation-grid.json",
    ]
    with Image.open(local / "grids" / "sofia_002_lr5e-5-validation-grid.jpg") as grid:
        assert grid.format == "JPEG"
    for name in ("config.json", "multidatabackend.json", "user_prompt_library.json"):
        assert (local / "config" / name).read_bytes() == (config_dir / name).read_bytes()

    output_files = _files(local / "output")
    assert "checkpoint-500/pytorch_lora_weights.safetensors" in output_files
    assert not any(name.startswith(("checkpoint-250", "checkpoint-750")) for name in output_files)
    assert not any(name.endswith(("optimizer.bin", "scheduler.bin", ".pkl", "training_state.json")) for name in output_files)
    assert _sha(local / "output" / "checkpoint-500" / "pytorch_lora_weights.safetensors") == _sha(
        output_dir / "checkpoint-500" / "pytorch_lora_weights.safetensors"
    )
    assert "validation_images/step_750_portrait_160x160.png" in output_files

    loras = workspace / "ComfyUI" / "models" / "loras" / "flux" / "sofia"
    assert _files(loras) == [
        "sofia_001_lr1e-4/sofia_001_lr1e-4-00100.safetensors",
        "sofia_001_lr1e-4/sofia_001_lr1e-4-00200.safetensors",
        "sofia_001_lr1e-4/sofia_001_lr1e-4-00300.safetensors",
        "sofia_001_lr1e-4/sofia_001_lr1e-4-final.safetensors",
        "sofia_002_lr5e-5/sofia_002_lr5e-5-00250.safetensors",
        "sofia_002_lr5e-5/sofia_002_lr5e-5-00500.safetensors",
        "sofia_010_rank32/sofia_010_rank32-00500.safetensors",
        "sofia_010_rank32/sofia_010_rank32-01000.safetensors",
    ]

    # A second run finds everything in place and changes nothing.
    again = run_pp("--workspace", str(workspace), "--family", "sofia", "--dest", str(dest), "--json", home=tmp_path)
    assert again.returncode == 0, again.stderr
    movers = [r for r in json.loads(again.stdout) if r["tool"] == "lm"]
    assert all(r["details"]["copied"] == [] for r in movers)


def _fixture_workspace(root: Path, fixtures: Path) -> Path:
    """Copy real SimpleTuner configs into ``root`` and generate the outputs they would train into."""
    simpletuner = root / "SimpleTuner"
    examples = simpletuner / "config" / "examples"
    shutil.copytree(fixtures / "simpletuner" / "flux.peft-lora", examples / "flux.peft-lora")
    shutil.copytree(fixtures / "simpletuner" / "kontext.peft-lora", examples / "kontext.peft-lora")
    shutil.copytree(fixtures / "simpletuner" / "anima.peft-lora", examples / "anima.peft-lora")

    # flux.peft-lora saves every 10 steps and validates every 50 (from its config.json).
    output = simpletuner / "output" / "examples" / "flux.peft-lora"
    for step in (50, 100):
        checkpoint = output / f"checkpoint-{step}"
        checkpoint.mkdir(parents=True)
        (checkpoint / "pytorch_lora_weights.safetensors").write_bytes(safetensors_bytes("flux", step, 4))
        (checkpoint / "optimizer.bin").write_bytes(os.urandom(512))
        (checkpoint / "random_states_0.pkl").write_bytes(b"\x80\x04N.")
        photo = Image.open(fixtures / "images" / "photos" / "rocket.jpg").convert("RGB").resize((64, 64))
        samples = output / "validation_images"
        samples.mkdir(exist_ok=True)
        photo.rotate(step).save(samples / f"step_{step}_flux_0_64x64.png")
    (output / "pytorch_lora_weights.safetensors").write_bytes(safetensors_bytes("flux", 0, 4))
    (root / "ComfyUI" / "models" / "loras").mkdir(parents=True)
    return root


def test_fixture_configs(tmp_path: Path, fixtures_dir: Path):
    workspace = _fixture_workspace(tmp_path / "ws", fixtures_dir)
    dest = tmp_path / "dest"
    completed = run_pp("--workspace", str(workspace), "--family", "flux.peft-lora", "--dest", str(dest), "--json", home=tmp_path)
    assert completed.returncode == 0, completed.stderr
    statuses = {r["tool"]: r["status"] for r in json.loads(completed.stdout)}
    assert statuses["lm"] == "ok"
    assert statuses["vg"] == "ok"
    assert statuses["dg"] == "skipped"  # its data_backend_config file is not part of the fixtures
    assert statuses["dc"] == "ok"
    assert statuses["do"] in ("ok", "warning")

    local = dest / "examples" / "flux.peft-lora"
    assert (local / "config" / "config.json").read_bytes() == (
        fixtures_dir / "simpletuner" / "flux.peft-lora" / "config.json"
    ).read_bytes()
    assert (local / "grids" / "flux.peft-lora-validation-grid.jpg").is_file()
    assert _files(local / "output") == [
        "checkpoint-100/pytorch_lora_weights.safetensors",
        "pytorch_lora_weights.safetensors",
        "validation_images/step_100_flux_0_64x64.png",
        "validation_images/step_50_flux_0_64x64.png",
    ]

    loras = workspace / "ComfyUI" / "models" / "loras" / "flux" / "flux.peft-lora" / "flux.peft-lora"
    assert _files(loras) == [
        "flux.peft-lora-00050.safetensors",
        "flux.peft-lora-00100.safetensors",
        "flux.peft-lora-final.safetensors",
    ]
    assert (loras / "flux.peft-lora-00050.safetensors").read_bytes() == safetensors_bytes("flux", 50, 4)


def test_kontext_without_output_skips(tmp_path: Path, fixtures_dir: Path):
    workspace = _fixture_workspace(tmp_path / "ws", fixtures_dir)
    completed = run_pp(
        "--workspace", str(workspace), "--config", "examples/kontext.peft-lora", "--dest", str(tmp_path / "d"), "--json",
        home=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr
    statuses = {r["tool"]: r["status"] for r in json.loads(completed.stdout)}
    assert statuses == {"lm": "skipped", "vg": "skipped", "dg": "skipped", "dc": "ok", "do": "skipped"}
    backup = tmp_path / "d" / "examples" / "kontext.peft-lora" / "config"
    assert _files(backup) == ["config.env", "config.json"]
