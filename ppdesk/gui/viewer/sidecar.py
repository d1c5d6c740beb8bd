"""The JSON sidecar of a validation grid: its cells and how to move between them.

A validation grid ``<name>.jpg`` may have ``<name>.json`` beside it, written by
the validation grid tool. It lists every cell of the grid in grid pixel
coordinates::

    {"config": str, "output": str, "width": int, "height": int,
     "rows": [step, ...], "columns": [label, ...],
     "cells": [{"x", "y", "w", "h", "step", "shortname", "index",
                "prompt", "source", "error"}, ...]}

``output`` is the config's output folder relative to the workspace root (or
absolute when outside it) and each ``source`` is relative to that folder, so
a cell's sample is found by joining them to the root of the workspace the
app is connected to (:meth:`GridCell.sample_path`). Sidecars from older
versions have no ``output`` and an absolute ``source``, which is used as it is.

The module is plain Python (no Qt) so it can run on a worker thread. The row
and column of a cell are derived from its position, not from ``rows`` and
``columns``, so a grid with a base-model row (``"step": "base"``) or with
missing cells still navigates by what is drawn.
"""

from __future__ import annotations

import json
import logging
import ntpath
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class SidecarError(ValueError):
    """A sidecar file exists but is not valid grid JSON; the message names the file and the field."""


@dataclass(frozen=True)
class GridCell:
    """One cell of a validation grid, in grid pixel coordinates.

    ``row`` and ``column`` are 0-based positions among the distinct cell tops and
    lefts of the grid. ``source`` is the sample's path as the sidecar stores it,
    or None. ``output`` is the sidecar's output folder, or None for an older
    sidecar whose ``source`` is an absolute path on the machine that built the
    grid (usually the pod).
    """

    x: int
    y: int
    w: int
    h: int
    step: int | None
    shortname: str
    index: int | None
    prompt: str
    source: str | None
    error: str | None
    row: int = 0
    column: int = 0
    output: str | None = None

    def sample_path(self, root: str | None) -> str:
        """Return the path of the sample on the machine that stores the workspace at ``root``.

        Raises ValueError when the cell has no sample, or when its source is
        relative and ``root`` is None.
        """
        if not self.source:
            raise ValueError("this cell has no sample file")
        if self.output is None:
            return self.source
        base = self.output
        if not is_absolute(base):
            if not root:
                raise ValueError("connect to the workspace the grid came from, because the sample's path is relative to it")
            base = join_path(root, base)
        return join_path(base, self.source)

    def contains(self, x: float, y: float) -> bool:
        """Return whether the grid point (x, y) is inside this cell (right and bottom edges excluded)."""
        return self.x <= x < self.x + self.w and self.y <= y < self.y + self.h


@dataclass
class GridSidecar:
    """A parsed sidecar: the grid size it describes and its cells in reading order."""

    path: Path
    config: str
    width: int
    height: int
    rows: list[Any]
    columns: list[Any]
    cells: list[GridCell]
    _by_position: dict[tuple[int, int], GridCell] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_position = {(cell.row, cell.column): cell for cell in self.cells}

    @property
    def row_count(self) -> int:
        """Number of distinct cell rows."""
        return 1 + max((cell.row for cell in self.cells), default=-1)

    @property
    def column_count(self) -> int:
        """Number of distinct cell columns."""
        return 1 + max((cell.column for cell in self.cells), default=-1)

    def cell_at(self, x: float, y: float) -> GridCell | None:
        """Return the cell under the grid point (x, y), or None for a gap, a label or outside."""
        for cell in self.cells:
            if cell.contains(x, y):
                return cell
        return None

    def cell_at_position(self, row: int, column: int) -> GridCell | None:
        """Return the cell at a 0-based (row, column), or None where the grid has no cell."""
        return self._by_position.get((row, column))

    def neighbour(self, cell: GridCell, row_step: int, column_step: int) -> GridCell:
        """Return the next cell from ``cell`` in the direction (row_step, column_step).

        Positions without a cell are skipped. At the edge of the grid the
        result is ``cell`` itself.
        """
        row, column = cell.row + row_step, cell.column + column_step
        while 0 <= row < self.row_count and 0 <= column < self.column_count:
            found = self._by_position.get((row, column))
            if found is not None:
                return found
            row, column = row + row_step, column + column_step
        return cell


def sidecar_path_for(image_path: Path) -> Path:
    """Return where the sidecar of ``image_path`` would be: same folder and stem, suffix ``.json``."""
    return image_path.with_suffix(".json")


def load_sidecar(image_path: Path) -> GridSidecar | None:
    """Read the sidecar next to ``image_path``; return None when there is none.

    Raises SidecarError when the file exists but cannot be read or parsed.
    Does disk I/O, so call it off the GUI thread for large grids.
    """
    path = sidecar_path_for(image_path)
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SidecarError(f"reading grid sidecar {path} failed: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SidecarError(f"grid sidecar {path} is not valid JSON: {exc}") from exc
    return parse_sidecar(data, path)


def parse_sidecar(data: Any, path: Path) -> GridSidecar:
    """Build a GridSidecar from decoded JSON; raise SidecarError naming the bad field."""
    if not isinstance(data, dict):
        raise SidecarError(f"grid sidecar {path}: expected a JSON object, got {type(data).__name__}")
    raw_cells = data.get("cells")
    if not isinstance(raw_cells, list):
        raise SidecarError(f"grid sidecar {path}: 'cells' is missing or not a list")

    output = data.get("output")
    if output is not None and (not isinstance(output, str) or not output):
        raise SidecarError(f"grid sidecar {path}: 'output' must be a folder path, got {output!r}")

    boxes = [_parse_box(raw, number, path) for number, raw in enumerate(raw_cells)]
    rows_of = _bands([(box[1], box[1] + box[3]) for box in boxes])
    columns_of = _bands([(box[0], box[0] + box[2]) for box in boxes])
    cells = [
        _build_cell(raw, box, row, column, output)
        for raw, box, row, column in zip(raw_cells, boxes, rows_of, columns_of)
    ]
    cells.sort(key=lambda cell: (cell.row, cell.column))

    width = _int_field(data, "width", path, default=max((c.x + c.w for c in cells), default=0))
    height = _int_field(data, "height", path, default=max((c.y + c.h for c in cells), default=0))
    rows = data.get("rows") if isinstance(data.get("rows"), list) else []
    columns = data.get("columns") if isinstance(data.get("columns"), list) else []
    return GridSidecar(
        path=path,
        config=str(data.get("config") or ""),
        width=width,
        height=height,
        rows=rows,
        columns=columns,
        cells=cells,
    )


def is_absolute(path: str) -> bool:
    """Return whether ``path`` is absolute on a POSIX pod or on Windows (drive or UNC share)."""
    return posixpath.isabs(path) or bool(ntpath.splitdrive(path)[0])


def join_path(base: str, relative: str) -> str:
    """Join a ``/``-separated ``relative`` path to ``base`` in ``base``'s own flavour.

    A pod path uses ``/``. A Windows path (one with a backslash or a drive)
    gets backslashes, because it is read on the Windows machine that stores it.
    """
    if "\\" in base or ntpath.splitdrive(base)[0]:
        return ntpath.join(base, *relative.split("/"))
    return posixpath.join(base, relative)


def describe_cell(cell: GridCell) -> str:
    """Return the plain-text description of a cell: step, shortname, prompt and error, one per line."""
    step = "base model" if cell.step is None else f"step {cell.step}"
    title = f"{step} · {cell.shortname}" if cell.shortname else step
    if cell.index is not None:
        title += f" #{cell.index}"
    lines = [title]
    if cell.prompt:
        lines.append(cell.prompt)
    if cell.error:
        lines.append(f"error: {cell.error}")
    return "\n".join(lines)


def _parse_box(raw: Any, number: int, path: Path) -> tuple[int, int, int, int]:
    if not isinstance(raw, dict):
        raise SidecarError(f"grid sidecar {path}: cell {number} is not an object")
    try:
        box = tuple(int(raw[key]) for key in ("x", "y", "w", "h"))
    except KeyError as exc:
        raise SidecarError(f"grid sidecar {path}: cell {number} has no {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise SidecarError(f"grid sidecar {path}: cell {number} has a non-integer position or size") from exc
    if box[2] <= 0 or box[3] <= 0:
        raise SidecarError(f"grid sidecar {path}: cell {number} has an empty size {box[2]}x{box[3]}")
    return box  # type: ignore[return-value]


def _build_cell(raw: dict[str, Any], box: tuple[int, int, int, int], row: int, column: int, output: str | None) -> GridCell:
    return GridCell(
        x=box[0],
        y=box[1],
        w=box[2],
        h=box[3],
        step=_optional_int(raw.get("step")),
        shortname=str(raw.get("shortname") or ""),
        index=_optional_int(raw.get("index")),
        prompt=str(raw.get("prompt") or ""),
        source=str(raw["source"]) if raw.get("source") else None,
        error=str(raw["error"]) if raw.get("error") else None,
        row=row,
        column=column,
        output=output,
    )


def _bands(intervals: list[tuple[int, int]]) -> list[int]:
    """Return, for each [start, end) interval, the 0-based index of its band.

    Overlapping intervals share a band and a gap starts the next one. The grid
    builder centres images of different sizes in their cells, so the cells of
    one row have different tops but always overlap each other vertically.
    """
    order = sorted(range(len(intervals)), key=lambda i: intervals[i])
    bands = [0] * len(intervals)
    band, band_end = -1, None
    for i in order:
        start, end = intervals[i]
        if band_end is None or start >= band_end:
            band += 1
            band_end = end
        else:
            band_end = max(band_end, end)
        bands[i] = band
    return bands


def _optional_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _int_field(data: dict[str, Any], key: str, path: Path, default: int) -> int:
    value = data.get(key)
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise SidecarError(f"grid sidecar {path}: {key!r} is not an integer: {value!r}") from exc
    if number <= 0:
        raise SidecarError(f"grid sidecar {path}: {key!r} must be positive, got {number}")
    return number
