"""Small SimpleTuner workspaces built from raw bytes paths, for names no str API can spell.

Every path is handled as bytes, so a name that is not valid UTF-8 is written
exactly as given.
"""

from __future__ import annotations

import json
import os
import struct
from io import BytesIO
from pathlib import Path
from typing import Dict, List

from PIL import Image

# A marker file each shell-syntax name tries to create; finding one proves a command ran.
CANARY = b"ppdesk-canary"

# One name per hostile feature; each is a single path segment.
HOSTILE_SEGMENTS: List[bytes] = [
    b"with space",
    b"quote'single",
    b'quote"double',
    b"semi;touch " + CANARY + b"-semi",
    b"pipe|touch " + CANARY + b"-pipe",
    b"$(touch " + CANARY + b"-subst)",
    b"`touch " + CANARY + b"-tick`",
    b"new\nline",
    b"-leading-dash",
    "ünïcödé-名前".encode("utf-8"),
    b"bad-\xff\xfe-bytes",
]


def safetensors_blob(step: int, extra: int = 0) -> bytes:
    """Return a tiny valid safetensors file whose bytes depend on ``step``."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    body = struct.pack("<4f", step, step + 1, step + 2, step + 3) + os.urandom(extra)
    return struct.pack("<Q", len(header)) + header + body


def png_bytes(color: tuple, size: int = 64) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, "PNG")
    return buffer.getvalue()


def write(path: bytes, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


def add_config(simpletuner: bytes, name: bytes, steps: List[int], names: Dict[str, bytes]) -> None:
    """Write one config ``name`` with output, checkpoints, samples and a dataset.

    ``names`` overrides the hostile parts: ``dataset`` (folder), ``prompt``
    (a sample shortname without ``_``), ``file`` (an extra config file) and
    ``image`` (a dataset image file stem).
    """
    config = os.path.join(simpletuner, b"config", name)
    output_rel = b"output/" + name
    dataset_rel = b"datasets/" + names["dataset"]
    backend = [
        {"id": "photos", "type": "local", "instance_data_dir": os.fsdecode(dataset_rel), "resolution": 512},
    ]
    settings = {
        "model_family": "flux",
        "output_dir": os.fsdecode(output_rel),
        "data_backend_config": os.fsdecode(os.path.join(b"config", name, b"multidatabackend.json")),
    }
    # ensure_ascii keeps lone surrogates as \udcxx escapes, which json.loads turns back into them.
    write(os.path.join(config, b"config.json"), json.dumps(settings).encode("ascii"))
    write(os.path.join(config, b"multidatabackend.json"), json.dumps(backend).encode("ascii"))
    write(os.path.join(config, names["file"] + b".txt"), b"notes for " + name)

    output = os.path.join(simpletuner, output_rel)
    for step in steps:
        checkpoint = os.path.join(output, b"checkpoint-%d" % step)
        write(os.path.join(checkpoint, b"pytorch_lora_weights.safetensors"), safetensors_blob(step))
        write(os.path.join(checkpoint, names["file"] + b".safetensors"), safetensors_blob(step + 7))
        write(os.path.join(checkpoint, b".guard"), b"")
    write(os.path.join(output, b"pytorch_lora_weights.safetensors"), safetensors_blob(99999))
    for index, step in enumerate(steps):
        sample = b"step_%d_%s_64x64.png" % (step, names["prompt"])
        write(os.path.join(output, b"validation_images", sample), png_bytes((40 * index % 255, 90, 160)))

    dataset = os.path.join(simpletuner, dataset_rel)
    for index in range(3):
        write(os.path.join(dataset, names["image"] + b"-%d.png" % index), png_bytes((200, 30 * index, 60)))


def build_hostile_workspace(root: Path) -> bytes:
    """Build a workspace whose configs, datasets, samples and files carry hostile names; return its root as bytes."""
    root_bytes = os.fsencode(root)
    simpletuner = os.path.join(root_bytes, b"SimpleTuner")
    for index, segment in enumerate(HOSTILE_SEGMENTS):
        # The prompt shortname may not contain "_", which separates the name's fields.
        prompt = segment.replace(b"_", b"-")
        add_config(
            simpletuner,
            b"hostile%02d_" % index + segment,
            [100, 200],
            {"dataset": segment + b"-data", "prompt": prompt, "file": segment, "image": segment},
        )
    return root_bytes


def find_canaries(folders: List[Path]) -> List[str]:
    """Return every file whose name starts with CANARY below ``folders`` (not following symlinks)."""
    found = []
    for folder in folders:
        for current, folder_names, file_names in os.walk(os.fsencode(folder)):
            for name in folder_names + file_names:
                if name.startswith(CANARY):
                    found.append(os.fsdecode(os.path.join(current, name)))
    return found
