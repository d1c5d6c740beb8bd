"""Composing a grid on this machine when the pod's Python lacks Pillow.

The pod still lists the source images (the listing ops need no Pillow).
The transfer engine fetches them into a cache folder below
``<dest>/<config>/grids/.pod-files/``, and ppdesk.core.grids builds the grid
from those local copies. The cache is kept, so a rerun fetches only new or
changed files. The finished grid is placed like a downloaded one: an
existing different grid is kept and the new one gets a numbered name.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List

from ppdesk.core.protocol import Emitter
from ppdesk.tools.base import ProgressEvent, ToolContext
from ppdesk.tools.common import AgentRequest, download_files, local_folder, run_request
from ppdesk.tools.grid_files import GridDownload, place_local_grid
from ppdesk.tools.workspace import ConfigEntry
from ppdesk.transfer.plan import planned_files
from ppdesk.transfer.report import TransferReport

log = logging.getLogger(__name__)

CACHE_FOLDER = ".pod-files"


class _ProgressEmitter(Emitter):
    """An Emitter that turns the builders' progress lines into ProgressEvents and collects warnings."""

    def __init__(self, ctx: ToolContext, tool: str, config: ConfigEntry) -> None:
        super().__init__(stream=None)
        self._ctx = ctx
        self._tool = tool
        self._config = config
        self.warnings: List[str] = []

    def progress(self, done: int, total: int, message: str = "") -> None:
        self._ctx.cancel.raise_if_cancelled()
        self._ctx.progress(ProgressEvent(self._tool, self._config.name, message, done, total))

    def warning(self, message: str) -> None:
        self.warnings.append(message)
        log.warning("%s on %s: %s", self._tool, self._config.name, message)


@dataclass
class LocalGrid:
    """A grid built on this machine: the builder's result, where it was placed, and the fetch report."""

    data: Dict[str, Any]
    placed: GridDownload
    fetch: TransferReport

    def fetch_note(self) -> str:
        """Return a sentence about source files that could not be fetched, or ""."""
        if not self.fetch.failed:
            return ""
        first = self.fetch.failed[0]
        return f"{len(self.fetch.failed)} source files could not be fetched (first: {first.rel}: {first.message})"


def _build_folder(ctx: ToolContext, config: ConfigEntry) -> Path:
    grids = local_folder(ctx, config, "grids")
    grids.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".building-", dir=grids))


def build_validation_grid_locally(ctx: ToolContext, tool: str, config: ConfigEntry) -> LocalGrid:
    """Fetch the config's validation samples and build its validation grid here.

    Raises AgentError or ConnectionLost from the listing, Cancelled, OSError
    from local writes, and AgentFailure("no_samples") when no sample is left.
    """
    from ppdesk.core.grids.validation import build_validation_grid

    listing = run_request(ctx, tool, config, AgentRequest("list_samples", {"config": config.name}))
    files = [entry for entry in listing.get("files") or []
             if ctx.options.include_base or not entry["rel"].startswith("benchmarks/")]
    cache = local_folder(ctx, config, "grids") / CACHE_FOLDER / "validation"
    ctx.progress(ProgressEvent(tool, config.name, f"fetching {len(files)} validation samples"))
    fetched = download_files(ctx, tool, config, planned_files(files), cache)

    stem = config.name.rsplit("/", 1)[-1]
    emitter = _ProgressEmitter(ctx, tool, config)
    building = _build_folder(ctx, config)
    try:
        result = build_validation_grid(
            output_dir=str(cache),
            grid_path=str(building / f"{stem}-validation-grid.jpg"),
            sidecar_path=str(building / f"{stem}-validation-grid.json"),
            config_name=config.name,
            emit=emitter,
            sidecar_output=listing.get("output_location"),
            include_base=ctx.options.include_base,
            keep_composite=ctx.options.keep_composite,
            max_pixels=ctx.options.max_grid_pixels,
            prompts=listing.get("prompts"),
            validation_prompt=listing.get("validation_prompt"),
        )
        placed = place_local_grid([Path(result.grid), Path(result.sidecar)], local_folder(ctx, config, "grids"))
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return LocalGrid(result.to_dict(), placed, fetched)


def build_dataset_grid_locally(ctx: ToolContext, tool: str, config: ConfigEntry) -> LocalGrid:
    """Fetch up to ``options.dataset_limit`` dataset images and build the dataset grid here.

    Raises as :func:`build_validation_grid_locally`.
    """
    from ppdesk.core.grids.dataset import build_dataset_grid

    listing = run_request(
        ctx, tool, config, AgentRequest("list_dataset_images", {"config": config.name, "limit": ctx.options.dataset_limit})
    )
    files = listing.get("files") or []
    cache = local_folder(ctx, config, "grids") / CACHE_FOLDER / "dataset"
    ctx.progress(ProgressEvent(tool, config.name, f"fetching {len(files)} dataset images"))
    fetched = download_files(ctx, tool, config, planned_files(files), cache)

    stem = config.name.rsplit("/", 1)[-1]
    emitter = _ProgressEmitter(ctx, tool, config)
    building = _build_folder(ctx, config)
    try:
        result = build_dataset_grid(
            folders=[str(cache)],
            grid_path=str(building / f"{stem}-dataset-grid.jpg"),
            title=config.name,
            emit=emitter,
            limit=ctx.options.dataset_limit,
        )
        placed = place_local_grid([Path(result.grid)], local_folder(ctx, config, "grids"))
    finally:
        shutil.rmtree(building, ignore_errors=True)
    data = result.to_dict()
    data["total_images"] = int(listing.get("total_images") or data["total_images"])
    data["warnings"] = list(listing.get("warnings") or []) + list(data["warnings"])
    return LocalGrid(data, placed, fetched)
