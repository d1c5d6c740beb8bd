"""Sample paths in a validation grid's sidecar that do not change when the workspace moves.

Grids and sidecars are compared byte for byte, on the pod and after the
download, and a different pair gets a numbered name. With absolute sample
paths, the same grid built in a copy of the workspace would differ from the
original's sidecar and be numbered for nothing. So the sidecar stores:

- ``"output"``: the config's output folder relative to the workspace root,
  with ``/`` separators, or its absolute path when it lies outside the root
  (such a folder did not move with the workspace);
- each cell's ``"source"``: the sample's path relative to that output folder,
  with ``/`` separators, such as ``validation_images/step_100_portrait_0_512x512.png``.

Sidecars from older versions have no ``"output"`` and absolute sources.
:func:`same_grid_older_sidecar` recognises one that describes the same
grid, so that publishing keeps it instead of numbering an identical grid.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List, Optional

log = logging.getLogger(__name__)

OUTPUT_KEY = "output"
SOURCE_KEY = "source"
# Older sidecars are read whole to compare them, so a larger file counts as different.
MAX_OLDER_SIDECAR_BYTES = 64 * 1024 * 1024


def output_location(output_dir: str, root: Optional[str]) -> str:
    """Return ``output_dir`` relative to ``root`` with ``/`` separators, or absolute when outside ``root``.

    The root itself gives ``"."``. Without a root the absolute path is returned.
    """
    output = os.path.abspath(output_dir)
    if not root:
        return output
    base = os.path.abspath(root)
    try:
        inside = os.path.commonpath([output, base]) == base
    except ValueError:
        # Paths on different Windows drives have no common path.
        inside = False
    if not inside:
        return output
    return os.path.relpath(output, base).replace(os.sep, "/")


def relative_source(path: str, output_dir: str) -> str:
    """Return the sample ``path`` relative to ``output_dir`` with ``/`` separators.

    A path outside ``output_dir`` is returned absolute, which a reader joins
    to the output folder without changing it.
    """
    source = os.path.abspath(path)
    base = os.path.abspath(output_dir)
    try:
        inside = os.path.commonpath([source, base]) == base
    except ValueError:
        inside = False
    if not inside:
        return source
    return os.path.relpath(source, base).replace(os.sep, "/")


def same_grid_older_sidecar(new_path: str, old_path: str) -> bool:
    """Return whether ``old_path`` is an older-format sidecar of the same grid as ``new_path``.

    True when ``old_path`` has no ``"output"`` key and every field equals
    the new sidecar's, except that each absolute ``source`` ends with the
    new relative one. The caller has already found the grid JPEGs
    byte-identical. Unreadable or malformed files give False.
    """
    new = _read_json(new_path)
    old = _read_json(old_path)
    if new is None or old is None or OUTPUT_KEY in old or OUTPUT_KEY not in new:
        return False
    if {key: value for key, value in new.items() if key not in (OUTPUT_KEY, "cells")} != {
        key: value for key, value in old.items() if key != "cells"
    }:
        return False
    new_cells, old_cells = new.get("cells"), old.get("cells")
    if not isinstance(new_cells, list) or not isinstance(old_cells, list) or len(new_cells) != len(old_cells):
        return False
    return all(_same_cell(new_cell, old_cell) for new_cell, old_cell in zip(new_cells, old_cells))


def _same_cell(new: Any, old: Any) -> bool:
    if not isinstance(new, dict) or not isinstance(old, dict):
        return False
    if {k: v for k, v in new.items() if k != SOURCE_KEY} != {k: v for k, v in old.items() if k != SOURCE_KEY}:
        return False
    new_source, old_source = new.get(SOURCE_KEY), old.get(SOURCE_KEY)
    if new_source is None or old_source is None:
        return new_source is None and old_source is None
    if not isinstance(new_source, str) or not isinstance(old_source, str):
        return False
    return _ends_with_segments(old_source, new_source.split("/"))


def _ends_with_segments(path: str, segments: List[str]) -> bool:
    """Return whether ``path`` ends with the path ``segments``, with either separator."""
    parts = path.replace("\\", "/").split("/")
    return len(parts) > len(segments) and parts[-len(segments):] == segments


def _read_json(path: str) -> Optional[Dict[str, Any]]:
    try:
        if os.path.getsize(path) > MAX_OLDER_SIDECAR_BYTES:
            return None
        with open(path, "rb") as stream:
            data = json.loads(stream.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        log.debug("comparing grid sidecar %s: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None
