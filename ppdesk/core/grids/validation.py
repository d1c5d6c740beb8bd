"""The validation grid: every validation sample of a run in one JPEG.

Rows are training steps, newest first; columns are prompts. A column is one
shortname, or one (shortname, index, resolution) when a shortname has
several. With ``include_base`` the step-0 samples stay in and a last row
labelled ``base`` shows the base model's own images from
``<output>/benchmarks/base_model/<shortname>_<W>x<H>.png``.

Newer SimpleTuner versions save each sample as a composite: the base model's
image on the left and the step's image on the right, so the file is about
twice as wide as the ``<W>`` in its name. A sample at least 1.5 times as wide
as its name says is treated as such a composite and only its right half is
shown, unless ``keep_composite`` is set.

NOTE: the 1.5 ratio and the plain right-half crop are an estimate of the
composite layout. Label strips that SimpleTuner draws into a composite stay
in the cropped half, and a composite with more than two panels is cut wrong.

Next to the JPEG a JSON sidecar lists every cell::

    {"config": ..., "output": "SimpleTuner/output/<name>", "width": ..., "height": ...,
     "rows": [2000, 1000, "base"], "columns": ["portrait", ...],
     "cells": [{"x", "y", "w", "h", "step", "shortname", "index", "prompt",
                "source", "error"}]}

``output`` is the config's output folder relative to the workspace root
(absolute when it lies outside the root). ``x, y, w, h`` is the rectangle of
the drawn image in grid pixels (the whole cell when the cell is marked).
``step`` is the step number, or ``"base"`` in the base row. ``source`` is the
sample's path relative to the output folder, with ``/`` separators, or null
when the step has no sample for that column. No absolute path is stored, so
the same grid built in a moved copy of the workspace has the same sidecar
(see sidecar_paths). ``error`` is null for a drawn image, "missing sample"
for an empty cell, and a short reason for an unreadable file.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from PIL import Image, ImageDraw

from ..layout import WorkspaceLayout
from ..prompts import prompt_for, read_prompt_library, read_validation_prompt
from ..protocol import AgentFailure, Emitter
from ..grid_sources import BASE_FOLDER, _list_base_images, _load_config, _require_output, op_list_samples  # noqa: F401
from ..samples import Sample, SampleListing, list_samples, natural_key
from .compose import (
    DEFAULT_MAX_PIXELS,
    JPEG_QUALITY,
    find_scale,
    last_segment,
    optional_bool,
    optional_int,
    paste_centered,
    pixel_limit,
    publish,
    staging_path,
    write_jpeg_atomic,
    write_json_atomic,
)
from .images import FractionBox, Size, load_fitted, read_info
from .labels import (
    GRID_BACKGROUND,
    MISSING_CELL_BACKGROUND,
    draw_centered,
    draw_marked_cell,
    get_font,
    text_size,
)
from .sidecar_paths import OUTPUT_KEY, output_location, relative_source, same_grid_older_sidecar

log = logging.getLogger(__name__)

BASE_ROW = "base"
MISSING_SAMPLE = "missing sample"
COMPOSITE_MIN_RATIO = 1.5
RIGHT_HALF: FractionBox = (0.5, 0.0, 1.0, 1.0)

RowKey = Union[int, str]
ColumnKey = Tuple[str, Optional[int], int, int]


@dataclass
class Column:
    """One prompt column: a shortname with its index and the resolution named in the files."""

    shortname: str
    index: Optional[int]
    width: int
    height: int
    label: str = ""

    @property
    def key(self) -> ColumnKey:
        return (self.shortname, self.index, self.width, self.height)


@dataclass
class CellPlan:
    """The source of one grid cell, its header facts, and how to crop it."""

    row: RowKey
    column: Column
    source: Optional[str]
    composite: bool = False
    content: Size = (1, 1)
    error: Optional[str] = None


@dataclass
class GridResult:
    """Paths, size and counts of one written validation grid."""

    grid: str
    sidecar: str
    width: int
    height: int
    rows: List[RowKey]
    columns: List[str]
    cells: int
    bad_cells: int
    warnings: List[str] = field(default_factory=list)
    # Step-0 samples left out because include_base was off.
    base_samples_left_out: int = 0
    # True when the grid and sidecar were already there under these names, so nothing was written.
    unchanged: bool = False

    def to_dict(self) -> Dict[str, Any]:
        return {
            "grid": self.grid,
            "sidecar": self.sidecar,
            "width": self.width,
            "height": self.height,
            "rows": list(self.rows),
            "columns": list(self.columns),
            "cells": self.cells,
            "bad_cells": self.bad_cells,
            "warnings": list(self.warnings),
            "base_samples_left_out": self.base_samples_left_out,
            "unchanged": self.unchanged,
        }


@dataclass
class _Geometry:
    cell_widths: List[int]
    cell_height: int
    label_width: int
    header_height: int
    gap: int
    font_size: int

    def total(self, rows: int) -> Size:
        width = self.label_width + sum(self.cell_widths) + self.gap * (len(self.cell_widths) + 1)
        height = self.header_height + rows * self.cell_height + self.gap * (rows + 1)
        return width, height

    def column_left(self, column: int) -> int:
        return self.label_width + self.gap + sum(self.cell_widths[:column]) + self.gap * column

    def row_top(self, row: int) -> int:
        return self.header_height + self.gap + row * (self.cell_height + self.gap)


# ---------------------------------------------------------------- operations


def op_validation_grid(layout: WorkspaceLayout, args: Dict[str, Any], emit: Emitter) -> Dict[str, Any]:
    """Build ``<config folder>/<last segment>-validation-grid.jpg`` and its JSON sidecar.

    Args: ``config`` (name), ``include_base`` (bool, default false),
    ``keep_composite`` (bool, default false), ``max_pixels`` (int, default 80 million).
    Returns GridResult.to_dict(); an existing identical pair, or one whose
    sidecar is the older format of the same grid, is reused and reported as
    ``unchanged``. Raises AgentFailure for an invalid request,
    an unknown config, a missing output folder or a run without samples.
    """
    try:
        include_base = optional_bool(args.get("include_base"), "include_base")
        keep_composite = optional_bool(args.get("keep_composite"), "keep_composite")
        max_pixels = optional_int(args.get("max_pixels"), "max_pixels", DEFAULT_MAX_PIXELS, minimum=10_000)
    except ValueError as exc:
        raise AgentFailure("invalid_request", str(exc)) from exc

    config = _load_config(layout, args)
    output = _require_output(config)
    prompts, warning = read_prompt_library(config.get("prompt_library"))
    stem = last_segment(config["name"])
    grid_path = os.path.join(config["path"], f"{stem}-validation-grid.jpg")
    sidecar_path = os.path.join(config["path"], f"{stem}-validation-grid.json")

    result = build_validation_grid(
        output_dir=output,
        grid_path=staging_path(grid_path),
        sidecar_path=staging_path(sidecar_path),
        config_name=config["name"],
        sidecar_output=output_location(output, layout.root),
        emit=emit,
        include_base=include_base,
        keep_composite=keep_composite,
        max_pixels=max_pixels,
        prompts=prompts,
        validation_prompt=read_validation_prompt(config),
        extra_warnings=[warning] if warning else [],
    )
    # The pod keeps every grid it made: a changed grid gets a numbered name.
    staged_sidecar = result.sidecar
    published = publish(
        [(result.grid, grid_path), (result.sidecar, sidecar_path)],
        also_same=lambda staged, existing: staged == staged_sidecar and same_grid_older_sidecar(staged, existing),
    )
    result.grid, result.sidecar = published.paths
    result.unchanged = published.unchanged
    return result.to_dict()


# ---------------------------------------------------------------- grid building


def build_validation_grid(
    output_dir: str,
    grid_path: str,
    sidecar_path: str,
    config_name: str,
    emit: Emitter,
    include_base: bool = False,
    keep_composite: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    prompts: Optional[Dict[str, str]] = None,
    validation_prompt: Optional[str] = None,
    extra_warnings: Optional[List[str]] = None,
    sidecar_output: Optional[str] = None,
) -> GridResult:
    """Compose the validation grid of ``output_dir`` and write it and its sidecar atomically.

    ``sidecar_output`` is the sidecar's ``output`` value, the output folder
    relative to the workspace root; by default the absolute ``output_dir``.
    The cells' sources are stored relative to ``output_dir``.
    Unreadable samples become marked cells and are counted in ``bad_cells``.
    Emits one progress line per cell while loading. Raises
    AgentFailure("no_samples") when no image sample is left after filtering,
    and OSError when the grid cannot be written.
    """
    warnings: List[str] = list(extra_warnings or [])
    for message in warnings:
        emit.warning(message)

    def warn(message: str) -> None:
        warnings.append(message)
        emit.warning(message)
        log.warning("%s", message)

    listing = list_samples(output_dir)
    samples = _select_samples(listing, include_base, warn)
    base_left_out = 0 if include_base else sum(1 for s in listing.samples if s.step == 0 and not s.is_video)
    if not samples:
        folder = os.path.join(output_dir, "validation_images")
        if base_left_out:
            raise AgentFailure(
                "no_samples",
                f"only step 0 (base model) samples in {folder}, and step 0 is left out unless the base row is requested",
            )
        raise AgentFailure(
            "no_samples",
            f"no validation images in {folder}; enable validation in the config or wait for the first validation step",
        )

    columns = _make_columns(samples)
    steps = sorted({sample.step for sample in samples}, reverse=True)
    rows: List[RowKey] = list(steps)
    plans = _plan_cells(samples, columns, steps, keep_composite)
    if include_base:
        base_plans = _plan_base_row(output_dir, columns)
        if any(plan.source for plan in base_plans):
            rows.append(BASE_ROW)
            plans.extend(base_plans)
        else:
            warn(f"no base model images in {os.path.join(output_dir, BASE_FOLDER)}; the base row is left out")

    geometry = _fit_geometry(plans, columns, rows, pixel_limit(max_pixels))
    canvas, cells = _render(plans, columns, rows, geometry, keep_composite, emit)
    for cell in cells:
        cell["prompt"] = prompt_for(cell["shortname"], cell["index"], prompts, validation_prompt)
        if cell["source"] is not None:
            cell["source"] = relative_source(cell["source"], output_dir)

    bad = sum(1 for cell in cells if cell["source"] and cell["error"])
    sidecar = {
        "config": config_name,
        OUTPUT_KEY: sidecar_output if sidecar_output is not None else os.path.abspath(output_dir),
        "width": canvas.width,
        "height": canvas.height,
        "rows": rows,
        "columns": [column.label for column in columns],
        "cells": cells,
    }
    write_jpeg_atomic(grid_path, canvas, JPEG_QUALITY)
    write_json_atomic(sidecar_path, sidecar)
    log.info("wrote validation grid %s (%sx%s, %s bad cells)", grid_path, canvas.width, canvas.height, bad)

    return GridResult(
        grid=os.path.abspath(grid_path),
        sidecar=os.path.abspath(sidecar_path),
        width=canvas.width,
        height=canvas.height,
        rows=rows,
        columns=[column.label for column in columns],
        cells=len(cells),
        bad_cells=bad,
        warnings=warnings,
        base_samples_left_out=base_left_out,
    )


def _select_samples(listing: SampleListing, include_base: bool, warn: Callable[[str], None]) -> List[Sample]:
    if listing.unrecognised:
        shown = ", ".join(listing.unrecognised[:5])
        more = f" and {len(listing.unrecognised) - 5} more" if len(listing.unrecognised) > 5 else ""
        warn(f"{len(listing.unrecognised)} files in validation_images have unrecognised names: {shown}{more}")
    videos = [sample for sample in listing.samples if sample.is_video]
    if videos:
        warn(f"{len(videos)} video samples skipped: the grid shows still images only")
    selected = [sample for sample in listing.samples if not sample.is_video]
    if not include_base:
        selected = [sample for sample in selected if sample.step != 0]
    return selected


def _make_columns(samples: List[Sample]) -> List[Column]:
    keys = sorted(
        {(s.shortname, s.index, s.width, s.height) for s in samples},
        key=lambda key: (natural_key(key[0]), -1 if key[1] is None else key[1], key[2], key[3]),
    )
    columns = [Column(*key) for key in keys]
    by_shortname: Dict[str, List[Column]] = {}
    for column in columns:
        by_shortname.setdefault(column.shortname, []).append(column)

    # A shortname alone labels its column unless several columns share it.
    for group in by_shortname.values():
        indices = {column.index for column in group}
        resolutions = {(column.width, column.height) for column in group}
        for column in group:
            parts = [column.shortname]
            if len(indices) > 1 and column.index is not None:
                parts.append(f"#{column.index}")
            if len(resolutions) > 1:
                parts.append(f"{column.width}x{column.height}")
            column.label = " ".join(parts)
    return columns


def _is_composite(size: Size, column: Column) -> bool:
    return column.width > 0 and size[0] >= COMPOSITE_MIN_RATIO * column.width


def _plan_cells(samples: List[Sample], columns: List[Column], steps: List[int], keep_composite: bool) -> List[CellPlan]:
    by_key: Dict[Tuple[int, ColumnKey], Sample] = {}
    for sample in samples:
        key = (sample.step, (sample.shortname, sample.index, sample.width, sample.height))
        by_key.setdefault(key, sample)

    plans: List[CellPlan] = []
    for step in steps:
        for column in columns:
            sample = by_key.get((step, column.key))
            plans.append(_plan_one(step, column, sample.path if sample else None, keep_composite))
    return plans


def _plan_base_row(output_dir: str, columns: List[Column]) -> List[CellPlan]:
    folder = os.path.join(output_dir, BASE_FOLDER)
    plans = []
    for column in columns:
        path = os.path.join(folder, f"{column.shortname}_{column.width}x{column.height}.png")
        # The base model's own image is never a composite.
        plans.append(_plan_one(BASE_ROW, column, path if os.path.isfile(path) else None, keep_composite=True))
    return plans


def _plan_one(row: RowKey, column: Column, source: Optional[str], keep_composite: bool) -> CellPlan:
    plan = CellPlan(row=row, column=column, source=source, content=(column.width or 1, column.height or 1))
    if source is None:
        plan.error = MISSING_SAMPLE
        return plan
    info = read_info(source)
    if info.size is None:
        plan.error = info.error
        return plan
    plan.composite = _is_composite(info.size, column)
    width, height = info.size
    if plan.composite and not keep_composite:
        width = max(1, width // 2)
    plan.content = (width, height)
    return plan


def _fit_geometry(plans: List[CellPlan], columns: List[Column], rows: List[RowKey], budget: int) -> _Geometry:
    natural_widths = [1] * len(columns)
    natural_height = 1
    position = {column.key: number for number, column in enumerate(columns)}
    for plan in plans:
        natural_height = max(natural_height, plan.content[1])

    # Every row has the same height, so each cell is scaled to it and a column
    # is as wide as its widest image at that height, whatever its resolution.
    for plan in plans:
        number = position[plan.column.key]
        width = math.ceil(plan.content[0] * natural_height / plan.content[1])
        natural_widths[number] = max(natural_widths[number], width)
    row_labels = [str(row) for row in rows]

    def geometry_at(scale: float) -> _Geometry:
        cell_height = max(1, round(natural_height * scale))
        font_size = max(12, min(96, round(cell_height * 0.06)))
        gap = max(2, font_size // 4)
        font = get_font(font_size)
        label_width = max(text_size(label, font)[0] for label in row_labels) + 2 * font_size
        header_height = text_size("Ag", font)[1] + font_size
        return _Geometry(
            cell_widths=[max(1, round(width * scale)) for width in natural_widths],
            cell_height=cell_height,
            label_width=label_width,
            header_height=header_height,
            gap=gap,
            font_size=font_size,
        )

    scale = find_scale(lambda value: geometry_at(value).total(len(rows)), budget)
    return geometry_at(scale)


def _render(
    plans: List[CellPlan],
    columns: List[Column],
    rows: List[RowKey],
    geometry: _Geometry,
    keep_composite: bool,
    emit: Emitter,
) -> Tuple[Image.Image, List[Dict[str, Any]]]:
    canvas = Image.new("RGB", geometry.total(len(rows)), GRID_BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    _draw_labels(draw, columns, rows, geometry)

    column_number = {column.key: number for number, column in enumerate(columns)}
    row_number = {row: number for number, row in enumerate(rows)}
    cells: List[Dict[str, Any]] = []
    total = len(plans)
    for done, plan in enumerate(plans, start=1):
        number = column_number[plan.column.key]
        left = geometry.column_left(number)
        top = geometry.row_top(row_number[plan.row])
        box = (left, top, left + geometry.cell_widths[number], top + geometry.cell_height)
        cells.append(_render_cell(canvas, plan, box, keep_composite))
        emit.progress(done, total, f"cell {done} of {total}: {os.path.basename(plan.source or '')}")
    return canvas, cells


def _draw_labels(draw: ImageDraw.ImageDraw, columns: List[Column], rows: List[RowKey], geometry: _Geometry) -> None:
    for number, column in enumerate(columns):
        left = geometry.column_left(number)
        box = (left, 0, left + geometry.cell_widths[number], geometry.header_height)
        draw_centered(draw, box, column.label, geometry.font_size)
    for number, row in enumerate(rows):
        top = geometry.row_top(number)
        box = (0, top, geometry.label_width, top + geometry.cell_height)
        draw_centered(draw, box, str(row), geometry.font_size)


def _render_cell(canvas: Image.Image, plan: CellPlan, box: Tuple[int, int, int, int], keep_composite: bool) -> Dict[str, Any]:
    left, top, right, bottom = box
    cell: Dict[str, Any] = {
        "x": left,
        "y": top,
        "w": right - left,
        "h": bottom - top,
        "step": plan.row,
        "shortname": plan.column.shortname,
        "index": plan.column.index,
        "prompt": None,
        "source": plan.source,
        "error": plan.error,
    }
    if plan.source is None:
        draw_marked_cell(canvas, box, MISSING_SAMPLE, MISSING_CELL_BACKGROUND)
        return cell
    if plan.error is None:
        column = plan.column

        def crop(size: Size) -> Optional[FractionBox]:
            if keep_composite or plan.row == BASE_ROW or not _is_composite(size, column):
                return None
            return RIGHT_HALF

        loaded = load_fitted(plan.source, (right - left, bottom - top), crop=crop)
        if loaded.image is not None:
            x, y, width, height = paste_centered(canvas, loaded.image, box)
            cell.update({"x": x, "y": y, "w": width, "h": height})
            return cell
        cell["error"] = loaded.error
    draw_marked_cell(canvas, box, str(cell["error"]))
    return cell
