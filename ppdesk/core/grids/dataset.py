"""The dataset grid: a contact sheet of a config's training images.

Images are collected from the config's dataset folders recursively, in
natural order of their paths. When there are more than ``limit``, an evenly
spaced subset is shown (first and last included). Thumbnails are fitted into
square cells of a near-square layout under a title line naming the config and
the count. The JPEG is kept under 15 MB by lowering its quality and then its
scale.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Tuple

from PIL import Image, ImageDraw

from ..layout import WorkspaceLayout
from ..protocol import AgentFailure, Emitter
from ..grid_sources import IMAGE_EXTENSIONS, find_dataset_images, pick_evenly
from .compose import (
    DEFAULT_MAX_PIXELS,
    JPEG_QUALITY,
    encode_jpeg,
    find_scale,
    last_segment,
    optional_int,
    paste_centered,
    pixel_limit,
    publish,
    staging_path,
    write_atomic,
)
from .images import load_fitted
from .labels import GRID_BACKGROUND, draw_centered, draw_marked_cell

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 100
CELL_SIDE = 320
MAX_JPEG_BYTES = 15 * 1024 * 1024
_QUALITY_STEPS = (JPEG_QUALITY, 80, 70, 60)
_SCALE_STEP = 0.8


@dataclass
class DatasetGridResult:
    """Path, size and image counts of one written dataset grid."""

    grid: str
    width: int
    height: int
    images: int
    total_images: int
    bad_images: int
    warnings: List[str] = field(default_factory=list)
    # True when the same grid already had this name, so nothing was written.
    unchanged: bool = False

    def to_dict(self) -> Dict[str, Any]:
        return {
            "grid": self.grid,
            "width": self.width,
            "height": self.height,
            "images": self.images,
            "total_images": self.total_images,
            "bad_images": self.bad_images,
            "warnings": list(self.warnings),
            "unchanged": self.unchanged,
        }


def op_dataset_grid(layout: WorkspaceLayout, args: Dict[str, Any], emit: Emitter) -> Dict[str, Any]:
    """Build ``<config folder>/<last segment>-dataset-grid.jpg`` from the config's dataset folders.

    Args: ``config`` (name), ``limit`` (int, default 100). Returns
    DatasetGridResult.to_dict(). Raises AgentFailure for an invalid request,
    an unknown config, or when no dataset image is found.
    """
    name = args.get("config")
    if not isinstance(name, str) or not name:
        raise AgentFailure("invalid_request", f"argument 'config' must be a config name, got {name!r}")
    try:
        limit = optional_int(args.get("limit"), "limit", DEFAULT_LIMIT)
    except ValueError as exc:
        raise AgentFailure("invalid_request", str(exc)) from exc

    # Imported on use because build_dataset_grid works on plain paths without the scan modules.
    from ..scan import load_config

    config = load_config(layout, name)
    grid_path = os.path.join(config["path"], f"{last_segment(config['name'])}-dataset-grid.jpg")
    result = build_dataset_grid(
        folders=list(config.get("datasets") or []),
        grid_path=staging_path(grid_path),
        title=config["name"],
        emit=emit,
        limit=limit,
    )
    # The pod keeps every grid it made: a changed grid gets a numbered name.
    published = publish([(result.grid, grid_path)])
    (result.grid,) = published.paths
    result.unchanged = published.unchanged
    return result.to_dict()


def build_dataset_grid(
    folders: List[str],
    grid_path: str,
    title: str,
    emit: Emitter,
    limit: int = DEFAULT_LIMIT,
    cell_side: int = CELL_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = MAX_JPEG_BYTES,
) -> DatasetGridResult:
    """Compose the dataset grid and write it atomically to ``grid_path``.

    Unreadable images become marked cells counted in ``bad_images``. Emits
    one progress line per image. Raises AgentFailure("not_found") when the
    folders hold no image, and OSError when the grid cannot be written.
    """
    warnings: List[str] = []

    def warn(message: str) -> None:
        warnings.append(message)
        emit.warning(message)
        log.warning("%s", message)

    everything = find_dataset_images(folders, warn)
    if not everything:
        raise AgentFailure(
            "not_found",
            f"no images ({', '.join(IMAGE_EXTENSIONS)}) in the dataset folders {folders}; "
            "check the config's data backend file",
        )
    chosen = pick_evenly(everything, limit)
    heading = f"{title}: {len(chosen)} of {len(everything)} images"

    columns = math.ceil(math.sqrt(len(chosen)))
    rows = math.ceil(len(chosen) / columns)
    budget = pixel_limit(max_pixels)
    scale = find_scale(lambda value: _canvas_size(columns, rows, _side_at(cell_side, value)), budget)
    side = _side_at(cell_side, scale)

    canvas, bad = _render(chosen, columns, rows, side, heading, emit)
    data = _encode_under(canvas, max_bytes)

    # Shrink the finished sheet rather than decoding every image again.
    while len(data) > max_bytes and min(canvas.size) > 64:
        smaller = (max(1, int(canvas.width * _SCALE_STEP)), max(1, int(canvas.height * _SCALE_STEP)))
        log.info("dataset grid is %s bytes, over %s; scaling it to %sx%s", len(data), max_bytes, *smaller)
        canvas = canvas.resize(smaller, Image.LANCZOS)
        data = _encode_under(canvas, max_bytes)
    if len(data) > max_bytes:
        warn(f"dataset grid is {len(data)} bytes, over the {max_bytes}-byte target even at {canvas.width}x{canvas.height}")

    write_atomic(grid_path, data)
    log.info("wrote dataset grid %s (%sx%s, %s of %s images)", grid_path, canvas.width, canvas.height, len(chosen), len(everything))
    return DatasetGridResult(
        grid=os.path.abspath(grid_path),
        width=canvas.width,
        height=canvas.height,
        images=len(chosen),
        total_images=len(everything),
        bad_images=bad,
        warnings=warnings,
    )


def _side_at(cell_side: int, scale: float) -> int:
    return max(16, round(cell_side * scale))


def _gap(side: int) -> int:
    return max(2, side // 40)


def _title_height(side: int) -> int:
    return max(24, side // 6)


def _canvas_size(columns: int, rows: int, side: int) -> Tuple[int, int]:
    gap = _gap(side)
    width = columns * side + (columns + 1) * gap
    height = _title_height(side) + rows * side + (rows + 1) * gap
    return width, height


def _render(
    paths: List[str],
    columns: int,
    rows: int,
    side: int,
    heading: str,
    emit: Emitter,
) -> Tuple[Image.Image, int]:
    gap = _gap(side)
    title_height = _title_height(side)
    canvas = Image.new("RGB", _canvas_size(columns, rows, side), GRID_BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw_centered(draw, (0, 0, canvas.width, title_height), heading, max(12, title_height * 3 // 5))

    bad = 0
    for number, path in enumerate(paths):
        row, column = divmod(number, columns)
        left = gap + column * (side + gap)
        top = title_height + gap + row * (side + gap)
        box = (left, top, left + side, top + side)
        loaded = load_fitted(path, (side, side))
        if loaded.image is None:
            bad += 1
            draw_marked_cell(canvas, box, f"{os.path.basename(path)}: {loaded.error}")
        else:
            paste_centered(canvas, loaded.image, box)
        emit.progress(number + 1, len(paths), f"image {number + 1} of {len(paths)}: {os.path.basename(path)}")
    return canvas, bad


def _encode_under(canvas: Image.Image, max_bytes: int) -> bytes:
    data = b""
    for quality in _QUALITY_STEPS:
        data = encode_jpeg(canvas, quality)
        if len(data) <= max_bytes:
            return data
    return data
