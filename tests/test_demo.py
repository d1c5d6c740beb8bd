"""The generated demo workspace: shape, file formats and determinism."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest
from PIL import Image

from ppdesk.demo import DEMO_VERSION, MARKER_NAME, build_demo_workspace, ensure_demo_workspace


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_workspace(tmp_path_factory.mktemp("demo") / "ws")


def _parse_safetensors(path: Path) -> dict:
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length].decode("utf-8"))
    body = data[8 + length :]
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, stop = info["data_offsets"]
        count = 1
        for dim in info["shape"]:
            count *= dim
        assert info["dtype"] == "F32"
        assert stop - start == count * 4
        end = max(end, stop)
    assert end == len(body)
    return header


def test_config_styles(demo: Path):
    config = demo / "SimpleTuner" / "config"
    assert (config / "sofia_001_lr1e-4" / "config.json").is_file()
    dashed = json.loads((config / "sofia_002_lr5e-5" / "config.json").read_text())
    assert all(key.startswith("--") for key in dashed)
    assert (config / "sofia_010_rank32" / "config.toml").is_file()
    assert (config / "max_001_base" / "config.json").is_file()
    assert (config / "max_001_base" / "config.env").is_file()
    assert (config / "max_002_env" / "config.env").is_file()
    assert not (config / "max_002_env" / "config.json").exists()
    assert (config / "examples" / "demo.peft-lora" / "config.json").is_file()


def test_families_and_names(demo: Path):
    names = sorted(p.parent.relative_to(demo / "SimpleTuner" / "config").as_posix()
                   for p in (demo / "SimpleTuner" / "config").rglob("config.*"))
    assert "sofia_001_lr1e-4" in names
    assert "sofia_010_rank32" in names
    families = {name.rsplit("/", 1)[-1].split("_")[0] for name in names}
    assert {"sofia", "max"} <= families
    assert len(set(names)) >= 5


def test_checkpoint_folders(demo: Path):
    output = demo / "SimpleTuner" / "output"
    sofia1 = sorted(p.name for p in (output / "sofia_001_lr1e-4").glob("checkpoint-*"))
    assert sofia1 == ["checkpoint-100", "checkpoint-200", "checkpoint-300", "checkpoint-400-tmp"]
    guarded = output / "sofia_002_lr5e-5"
    assert (guarded / "checkpoint-250" / ".guard").is_file()
    assert (guarded / "checkpoint-500" / ".guard").is_file()
    assert not (guarded / "checkpoint-750" / ".guard").exists()
    for name in ("optimizer.bin", "scheduler.bin", "random_states_0.pkl", "training_state.json"):
        assert (output / "sofia_001_lr1e-4" / "checkpoint-100" / name).is_file()
    assert (output / "sofia_001_lr1e-4" / "pytorch_lora_weights.safetensors").is_file()
    assert not (output / "examples" / "demo.peft-lora").exists()


def test_safetensors_valid_and_distinct(demo: Path):
    weights = sorted((demo / "SimpleTuner" / "output").rglob("*.safetensors"))
    assert len(weights) >= 10
    digests = set()
    for path in weights:
        header = _parse_safetensors(path)
        assert "__metadata__" in header
        digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
    assert len(digests) == len(weights)


def test_sample_name_schemes(demo: Path):
    output = demo / "SimpleTuner" / "output"
    old = sorted(p.name for p in (output / "sofia_002_lr5e-5" / "validation_images").iterdir())
    assert "step_250_full_body_160x160.png" in old
    new = sorted(p.name for p in (output / "sofia_001_lr1e-4" / "validation_images").iterdir())
    assert "step_400_night_city_0_160x160.png" in new
    assert len(new) == 12
    webp = list((output / "max_001_base" / "validation_images").glob("*.webp"))
    assert len(webp) == 6


def test_composites_doubled_width(demo: Path):
    folder = demo / "SimpleTuner" / "output" / "sofia_010_rank32"
    samples = sorted((folder / "validation_images").glob("*.jpg"))
    assert len(samples) == 6
    for path in samples:
        with Image.open(path) as image:
            assert image.size == (320, 160)
    assert (folder / "benchmarks" / "base_model" / "portrait_160x160.png").is_file()


def test_samples_change_per_step(demo: Path):
    folder = demo / "SimpleTuner" / "output" / "sofia_001_lr1e-4" / "validation_images"
    with Image.open(folder / "step_100_portrait_0_160x160.png") as first:
        early = first.convert("RGB").getpixel((80, 120))
    with Image.open(folder / "step_400_portrait_0_160x160.png") as last:
        late = last.convert("RGB").getpixel((80, 120))
    assert early != late


def test_datasets_and_backends(demo: Path):
    backends = json.loads((demo / "SimpleTuner" / "config" / "sofia_001_lr1e-4" / "multidatabackend.json").read_text())
    local = [b for b in backends if b.get("type") == "local" and "instance_data_dir" in b]
    assert len(local) == 1
    assert local[0]["instance_data_dir"] == "datasets/sofia"
    folder = demo / "SimpleTuner" / local[0]["instance_data_dir"]
    photos = sorted(folder.glob("*.jpg"))
    assert len(photos) == 4
    with Image.open(photos[0]) as image:
        assert max(image.size) <= 512
    assert (demo / "ComfyUI" / "models" / "loras").is_dir()
    assert list((demo / "ComfyUI" / "models" / "loras").iterdir()) == []
    library = json.loads((demo / "SimpleTuner" / "config" / "sofia_001_lr1e-4" / "user_prompt_library.json").read_text())
    assert "full_body" in library


def test_build_is_deterministic(tmp_path: Path):
    first = build_demo_workspace(tmp_path / "a")
    second = build_demo_workspace(tmp_path / "b")
    files_a = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel
        assert (first / rel).stat().st_mtime == (second / rel).stat().st_mtime


def test_ensure_reuses_current(tmp_path: Path):
    root = ensure_demo_workspace(tmp_path)
    planted = root / "planted.txt"
    planted.write_text("kept")
    again = ensure_demo_workspace(tmp_path)
    assert again == root
    assert planted.read_text() == "kept"


def test_ensure_rebuilds_old_version(tmp_path: Path):
    root = ensure_demo_workspace(tmp_path)
    (root / MARKER_NAME).write_text(json.dumps({"demo_version": DEMO_VERSION - 1}))
    (root / "planted.txt").write_text("old")
    rebuilt = ensure_demo_workspace(tmp_path)
    assert not (rebuilt / "planted.txt").exists()
    assert json.loads((rebuilt / MARKER_NAME).read_text())["demo_version"] == DEMO_VERSION
    assert (rebuilt / "SimpleTuner" / "datasets" / "sofia" / "sofia_01.jpg").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["demo-workspace"]


def test_ensure_rejects_foreign_folder(tmp_path: Path):
    (tmp_path / "demo-workspace").mkdir()
    (tmp_path / "demo-workspace" / "mine.txt").write_text("user data")
    with pytest.raises(FileExistsError, match="not a ppdesk demo workspace"):
        ensure_demo_workspace(tmp_path)
    assert (tmp_path / "demo-workspace" / "mine.txt").read_text() == "user data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-workspace"]
