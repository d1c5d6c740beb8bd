"""A generated demo workspace: a small but realistic SimpleTuner pod layout.

``build_demo_workspace(root)`` writes configs in every supported style,
outputs with checkpoints (complete, in progress, unguarded), real
``.safetensors`` files, validation samples in both name schemes and datasets
made of the photos shipped in ``ppdesk/resources/demo/photos``. The result is
deterministic: the same ppdesk version writes the same bytes and mtimes.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import random
import shutil
import struct
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from PIL import Image, ImageDraw, ImageOps

log = logging.getLogger(__name__)

# Bump when the generated content changes, so cached demo workspaces are rebuilt.
DEMO_VERSION = 2
MARKER_NAME = ".ppdesk-demo.json"
# Every generated file gets this mtime (2025-01-01 00:00 UTC) plus its index.
FIXED_MTIME = 1_735_689_600

SAMPLE_SIZE = 160
PROMPTS: Dict[str, str] = {
    "portrait": "a studio portrait of the subject, soft light",
    "full_body": "the subject walking through a park, full body shot",
    "night_city": "the subject in a neon-lit city street at night",
}
# The shipped photo that each prompt's generated samples start from.
PROMPT_PHOTOS: Dict[str, str] = {"portrait": "astronaut", "full_body": "chelsea", "night_city": "coffee"}
DATASET_PHOTOS: Dict[str, List[str]] = {
    "sofia": ["astronaut", "chelsea", "coffee", "camera"],
    "max": ["rocket", "hubble_deep_field", "coins", "horse"],
}
TINTS: List[Tuple[int, int, int]] = [(230, 80, 60), (60, 160, 230), (90, 200, 90)]


@dataclass
class DemoOutput:
    """Contents of one config's output folder.

    ``checkpoints`` are complete saves. ``unguarded`` are saves without a
    ``.guard`` file in an output whose other checkpoints have one, so they
    count as incomplete. ``in_progress`` become ``checkpoint-<step>-tmp``.
    ``scheme`` is ``"old"`` (``step_<N>_<shortname>_<W>x<H>.png``) or
    ``"new"`` (``step_<N>_<shortname>_<index>_<W>x<H>.<ext>``).
    """

    checkpoints: List[int]
    sample_steps: List[int]
    scheme: str = "new"
    extension: str = "png"
    guarded: bool = False
    unguarded: List[int] = field(default_factory=list)
    in_progress: List[int] = field(default_factory=list)
    composite: bool = False
    final_weights: bool = False


@dataclass
class DemoConfig:
    """One config folder: its name, file style, settings and output."""

    name: str
    style: str  # "json", "dashed", "json+env", "toml", "env"
    dataset: str
    model_family: Optional[str]
    learning_rate: str
    lora_rank: int
    output: Optional[DemoOutput]


CONFIGS: List[DemoConfig] = [
    DemoConfig(
        "sofia_001_lr1e-4", "json", "sofia", "flux", "1e-4", 16,
        DemoOutput(checkpoints=[100, 200, 300], sample_steps=[100, 200, 300, 400],
                   in_progress=[400], final_weights=True),
    ),
    DemoConfig(
        "sofia_002_lr5e-5", "dashed", "sofia", "flux", "5e-5", 16,
        DemoOutput(checkpoints=[250, 500], sample_steps=[250, 500, 750], scheme="old",
                   guarded=True, unguarded=[750]),
    ),
    DemoConfig(
        "sofia_010_rank32", "toml", "sofia", "flux", "1e-4", 32,
        DemoOutput(checkpoints=[500, 1000], sample_steps=[500, 1000], extension="jpg", composite=True),
    ),
    DemoConfig(
        "max_001_base", "json+env", "max", "sdxl", "1e-4", 16,
        DemoOutput(checkpoints=[200, 400], sample_steps=[200, 400], extension="webp", guarded=True),
    ),
    DemoConfig(
        "max_002_env", "env", "max", None, "2e-4", 8,
        DemoOutput(checkpoints=[300], sample_steps=[150, 300]),
    ),
    # Never trained: its output folder does not exist.
    DemoConfig("examples/demo.peft-lora", "json", "sofia", "flux", "1e-4", 16, None),
]


def build_demo_workspace(root: Path) -> Path:
    """Write the demo workspace into ``root`` (created if missing) and return it.

    ``root`` should be empty because existing files with the same names are
    replaced. The workspace is about 150 small files (2 MB).
    """
    root = Path(root)
    simpletuner = root / "SimpleTuner"
    photos = _load_photos()

    for family, names in DATASET_PHOTOS.items():
        _write_dataset(simpletuner / "datasets" / family, names, photos)
    for config in CONFIGS:
        _write_config(simpletuner, config)
        if config.output is not None:
            _write_output(simpletuner / "output" / config.name, config, photos)
    (root / "ComfyUI" / "models" / "loras").mkdir(parents=True, exist_ok=True)

    _write_json(root / MARKER_NAME, {"demo_version": DEMO_VERSION})
    _fix_mtimes(root)
    log.info("demo workspace written to %s", root)
    return root


def ensure_demo_workspace(parent: Path) -> Path:
    """Return a current demo workspace under ``parent``, building it when needed.

    An existing ``parent/demo-workspace`` is reused when its marker names the
    current :data:`DEMO_VERSION`. Otherwise a fresh one is built beside it and
    renamed into place, so a half-written workspace is never used.
    """
    parent = Path(parent)
    target = parent / "demo-workspace"
    if _demo_version(target) == DEMO_VERSION:
        return target

    # Only a folder this function made (it has a marker) is ever removed.
    if target.exists() and _demo_version(target) is None:
        raise FileExistsError(f"{target} exists but is not a ppdesk demo workspace; move it away")

    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="demo-workspace.", dir=parent))
    try:
        build_demo_workspace(staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    log.info("demo workspace ready at %s", target)
    return target


def _demo_version(root: Path) -> Optional[int]:
    try:
        data = json.loads((root / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = data.get("demo_version") if isinstance(data, dict) else None
    return version if isinstance(version, int) else None


# --- photos and images --------------------------------------------------------


def _load_photos() -> Dict[str, Image.Image]:
    folder = resources.files("ppdesk.resources") / "demo" / "photos"
    photos: Dict[str, Image.Image] = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".jpg"):
            with entry.open("rb") as handle:
                image = Image.open(handle)
                image.load()
            photos[entry.name[: -len(".jpg")]] = image
    return photos


def _sample_image(photo: Image.Image, step: int, max_step: int, tint: Tuple[int, int, int]) -> Image.Image:
    """Render one step's sample: the photo tinted more strongly as steps grow, with the step drawn."""
    base = ImageOps.fit(photo.convert("RGB"), (SAMPLE_SIZE, SAMPLE_SIZE))
    strength = 0.6 * step / max_step
    image = Image.blend(base, Image.new("RGB", base.size, tint), strength)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 74, 16), fill=(0, 0, 0))
    draw.text((4, 3), f"step {step}", fill=(255, 255, 255))
    return image


def _base_image(photo: Image.Image) -> Image.Image:
    image = ImageOps.fit(photo.convert("RGB"), (SAMPLE_SIZE, SAMPLE_SIZE))
    ImageDraw.Draw(image).text((4, 3), "base model", fill=(255, 255, 0))
    return image


def _save_image(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    extension = path.suffix.lower()
    if extension == ".jpg":
        image.save(path, "JPEG", quality=85)
    elif extension == ".webp":
        image.save(path, "WEBP", quality=80)
    else:
        image.save(path, "PNG")


# --- configs ------------------------------------------------------------------


def _settings(config: DemoConfig) -> Dict[str, object]:
    folder = f"config/{config.name}"
    settings: Dict[str, object] = {
        "model_type": "lora",
        "lora_type": "standard",
        "lora_rank": config.lora_rank,
        "learning_rate": config.learning_rate,
        "output_dir": f"output/{config.name}",
        "data_backend_config": f"{folder}/multidatabackend.json",
        "user_prompt_library": f"{folder}/user_prompt_library.json",
        "validation_prompt": PROMPTS["portrait"],
        "validation_resolution": f"{SAMPLE_SIZE}x{SAMPLE_SIZE}",
        "validation_steps": 100,
        "checkpoint_step_interval": 100,
        "max_train_steps": 1000,
        "train_batch_size": 1,
        "mixed_precision": "bf16",
        "seed": 42,
    }
    if config.model_family is not None:
        settings["model_family"] = config.model_family
    if config.output is not None and not config.output.composite:
        settings["disable_benchmark"] = True
    return settings


def _write_config(simpletuner: Path, config: DemoConfig) -> None:
    folder = simpletuner / "config" / config.name
    folder.mkdir(parents=True, exist_ok=True)
    settings = _settings(config)

    if config.style in ("json", "json+env"):
        _write_json(folder / "config.json", settings)
    if config.style == "json+env":
        # This config.env contains launcher variables only; the training settings are in config.json.
        (folder / "config.env").write_text("export TRAINING_NUM_PROCESSES=1\nexport TRAINING_NUM_MACHINES=1\n")
    elif config.style == "dashed":
        _write_json(folder / "config.json", {f"--{key}": value for key, value in settings.items()})
    elif config.style == "toml":
        (folder / "config.toml").write_text(_toml(settings), encoding="utf-8")
    elif config.style == "env":
        (folder / "config.env").write_text(_env(settings), encoding="utf-8")

    _write_json(folder / "user_prompt_library.json", PROMPTS)
    _write_json(folder / "multidatabackend.json", _backends(config))


def _toml(settings: Dict[str, object]) -> str:
    lines = ["# SimpleTuner settings in TOML form"]
    for key, value in settings.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {str(value).lower()}")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f"{key} = {json.dumps(str(value))}")
    return "\n".join(lines) + "\n"


def _env(settings: Dict[str, object]) -> str:
    extra = " ".join(
        f"--{key}={value}"
        for key, value in settings.items()
        if key not in ("output_dir", "data_backend_config", "validation_prompt")
    )
    return (
        f"export OUTPUT_DIR={settings['output_dir']}\n"
        f"export DATALOADER_CONFIG={settings['data_backend_config']}\n"
        f"export VALIDATION_PROMPT={json.dumps(settings['validation_prompt'])}\n"
        f'export TRAINER_EXTRA_ARGS="{extra}"\n'
    )


def _backends(config: DemoConfig) -> List[Dict[str, object]]:
    short = config.name.rsplit("/", 1)[-1]
    return [
        {
            "id": f"{config.dataset}-photos",
            "type": "local",
            # Relative to the SimpleTuner folder, so the workspace may be moved.
            "instance_data_dir": f"datasets/{config.dataset}",
            "caption_strategy": "textfile",
            "crop": False,
            "resolution": 1024,
            "resolution_type": "pixel_area",
            "cache_dir_vae": f"cache/vae/{short}",
            "repeats": 10,
        },
        {
            "id": "text-embeds",
            "dataset_type": "text_embeds",
            "default": True,
            "type": "local",
            "cache_dir": f"cache/text/{short}",
        },
    ]


# --- datasets -----------------------------------------------------------------


def _write_dataset(folder: Path, names: List[str], photos: Dict[str, Image.Image]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    source = resources.files("ppdesk.resources") / "demo" / "photos"
    for index, name in enumerate(names, start=1):
        stem = f"{folder.name}_{index:02d}"
        (folder / f"{stem}.jpg").write_bytes((source / f"{name}.jpg").read_bytes())
        (folder / f"{stem}.txt").write_text(f"a photo of {folder.name}, {name.replace('_', ' ')}\n")


# --- outputs ------------------------------------------------------------------


def _write_output(output: Path, config: DemoConfig, photos: Dict[str, Image.Image]) -> None:
    spec = config.output
    assert spec is not None
    output.mkdir(parents=True, exist_ok=True)

    for step in spec.checkpoints:
        _write_checkpoint(output / f"checkpoint-{step}", config, step, guard=spec.guarded)
    for step in spec.unguarded:
        _write_checkpoint(output / f"checkpoint-{step}", config, step, guard=False)
    for step in spec.in_progress:
        # A save in progress: weights written, state files not yet.
        folder = output / f"checkpoint-{step}-tmp"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "pytorch_lora_weights.safetensors").write_bytes(safetensors_bytes(config.name, step, config.lora_rank))

    if spec.final_weights:
        (output / "pytorch_lora_weights.safetensors").write_bytes(safetensors_bytes(config.name, 0, config.lora_rank))
        (output / "training_metrics.jsonl").write_text(
            "".join(json.dumps({"step": s, "loss": round(0.2 - s / 10000, 4)}) + "\n" for s in spec.checkpoints)
        )
        logs = output / "logs"
        logs.mkdir(exist_ok=True)
        (logs / "train.log").write_text("".join(f"step {s}: checkpoint saved\n" for s in spec.checkpoints))

    _write_samples(output, config, spec, photos)


def _write_checkpoint(folder: Path, config: DemoConfig, step: int, guard: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"{config.name}:{step}:state")
    (folder / "pytorch_lora_weights.safetensors").write_bytes(safetensors_bytes(config.name, step, config.lora_rank))
    (folder / "optimizer.bin").write_bytes(rng.randbytes(2048))
    (folder / "scheduler.bin").write_bytes(rng.randbytes(256))
    (folder / "random_states_0.pkl").write_bytes(pickle.dumps({"step": step, "seed": 42}, protocol=4))
    _write_json(folder / "training_state.json", {"global_step": step, "epoch_step": step, "current_epoch": 1})
    if guard:
        (folder / ".guard").write_bytes(b"")


def _write_samples(output: Path, config: DemoConfig, spec: DemoOutput, photos: Dict[str, Image.Image]) -> None:
    folder = output / "validation_images"
    size = f"{SAMPLE_SIZE}x{SAMPLE_SIZE}"
    max_step = max(spec.sample_steps)

    for prompt_index, shortname in enumerate(PROMPTS):
        photo = photos[PROMPT_PHOTOS[shortname]]
        tint = TINTS[prompt_index % len(TINTS)]
        base = _base_image(photo)
        if spec.composite:
            _save_image(base, output / "benchmarks" / "base_model" / f"{shortname}_{size}.png")

        for step in spec.sample_steps:
            image = _sample_image(photo, step, max_step, tint)
            if spec.composite:
                # SimpleTuner's benchmark layout: base model left, this step right.
                composite = Image.new("RGB", (SAMPLE_SIZE * 2, SAMPLE_SIZE))
                composite.paste(base, (0, 0))
                composite.paste(image, (SAMPLE_SIZE, 0))
                image = composite
            if spec.scheme == "old":
                name = f"step_{step}_{shortname}_{size}.png"
            else:
                name = f"step_{step}_{shortname}_0_{size}.{spec.extension}"
            _save_image(image, folder / name)


# --- safetensors --------------------------------------------------------------


def safetensors_bytes(config_name: str, step: int, rank: int) -> bytes:
    """Return a valid, small LoRA ``.safetensors`` file unique to ``(config_name, step)``.

    The file is an 8-byte little-endian header length, a JSON header naming
    each tensor's dtype, shape and byte range, then the F32 tensor data.
    Step 0 means the final weights.
    """
    rng = random.Random(f"{config_name}:{step}:weights")
    tensors = {
        "lora_unet_transformer_blocks_0_attn_to_q.lora_A.weight": (rank, 8),
        "lora_unet_transformer_blocks_0_attn_to_q.lora_B.weight": (8, rank),
    }
    header: Dict[str, object] = {
        "__metadata__": {"format": "pt", "ss_network_dim": str(rank), "ss_steps": str(step)}
    }
    data = bytearray()
    for name, shape in tensors.items():
        count = shape[0] * shape[1]
        chunk = struct.pack(f"<{count}f", *(rng.uniform(-0.05, 0.05) for _ in range(count)))
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [len(data), len(data) + len(chunk)]}
        data += chunk

    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # Safetensors allows trailing spaces in the header, and the padding keeps the data 8-byte aligned.
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + bytes(data)


# --- helpers ------------------------------------------------------------------


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _fix_mtimes(root: Path) -> None:
    """Give every file a fixed mtime so that two builds are identical, file dates included."""
    paths = sorted(p for p in root.rglob("*") if p.is_file())
    for index, path in enumerate(paths):
        os.utime(path, (FIXED_MTIME + index, FIXED_MTIME + index))
