"""Helpers shared by the grid tests: sample folders built from real fixture images."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Dict, List, Tuple

from PIL import Image, ImageChops, ImageStat

PHOTO_NAMES = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "rocket.jpg", "horse.png"]
BROKEN_NAMES = {"broken.png", "decompression_bomb.gif"}


def read_events(stream: io.StringIO) -> List[dict]:
    """Parse the JSON lines an Emitter wrote."""
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def make_bad_files(folder: Path, photo: Path) -> Dict[str, Path]:
    """Write an empty file, a text file and a PNG cut after 10 KB into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    text = folder / "text.png"
    text.write_text("this is not a picture\n", encoding="utf-8")
    truncated = folder / "truncated.png"
    truncated.write_bytes(photo.read_bytes()[:10 * 1024])
    return {"empty": empty, "text": text, "truncated": truncated}


def make_composite(photo: Path, dest: Path, width: int, height: int) -> None:
    """Save a SimpleTuner-style composite: red left half, ``photo`` resized into the right half."""
    canvas = Image.new("RGB", (2 * width, height), (255, 0, 0))
    with Image.open(photo) as source:
        canvas.paste(source.convert("RGB").resize((width, height)), (width, 0))
    canvas.save(dest)


def copy_as(source: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)
    return dest


def thumbnail(image: Image.Image, size: Tuple[int, int] = (16, 16)) -> Image.Image:
    return image.convert("RGB").resize(size, Image.BOX)


def mean_difference(first: Image.Image, second: Image.Image) -> float:
    """Return the mean absolute difference (0-255) of two images scaled to 16x16 RGB."""
    values = ImageStat.Stat(ImageChops.difference(thumbnail(first), thumbnail(second))).mean
    return sum(values) / len(values)


def crop_cell(grid: Image.Image, cell: dict) -> Image.Image:
    return grid.crop((cell["x"], cell["y"], cell["x"] + cell["w"], cell["y"] + cell["h"]))


def open_source(path: str) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.convert("RGB")
