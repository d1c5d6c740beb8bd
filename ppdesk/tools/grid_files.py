"""Saving grids locally without overwriting: a changed grid gets the next free numbered name.

A grid is rebuilt after more training, so a different local grid is the
normal case, not a conflict to stop at. The older file stays untouched and
the new grid lands next to it as ``<stem> (2)<suffix>``, ``<stem> (3)<suffix>``...
A grid and its sidecar always share one number. A variant whose files are
already identical is reused, so a rerun without changes writes nothing, and
only a run that wrote a new numbered grid warns about it.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import List, Sequence

from ppdesk.tools.base import ToolContext
from ppdesk.tools.common import AgentRequest, download_files, run_request
from ppdesk.tools.workspace import ConfigEntry
from ppdesk.transfer.plan import PlannedFile, safe_join
from ppdesk.transfer.report import TransferReport
from ppdesk.transfer.verify import compare_existing, sha256_file

log = logging.getLogger(__name__)

# Numbered names tried before giving up; reaching it means something else is wrong.
MAX_VARIANTS = 1000
# A name that variant_name numbered, such as "x-validation-grid (2).jpg".
NUMBERED_NAME = re.compile(r" \(\d+\)\.[^.]+$")


@dataclass
class GridDownload:
    """The download report, the number of the name variant used (1 = the plain name) and the local names."""

    report: TransferReport
    variant: int
    names: List[str]
    # True when every file was already here with the same content, so nothing was written.
    unchanged: bool = False

    def numbered(self) -> bool:
        """Return whether the grid's name is numbered, here or already on the pod."""
        return self.variant > 1 or bool(NUMBERED_NAME.search(self.names[0]))

    def note(self, unchanged_on_pod: bool = False) -> str:
        """Return the warning that an older, different grid was kept and the new one numbered, or "".

        The number comes from here when a different local grid was in the
        way, or from the pod, which numbers a changed grid the same way.
        ``unchanged_on_pod`` tells that the pod reused a grid it built
        before. Only a grid that is new under its numbered name warns, so
        a rerun without changes stays quiet.
        """
        if not self.numbered() or self.unchanged:
            return ""
        if self.variant == 1 and unchanged_on_pod:
            return ""
        return f"an older, different grid was kept; the new one is saved as {self.names[0]}"


def variant_name(name: str, number: int) -> str:
    """Return ``name`` for number 1, else ``"<stem> (<number>)<suffix>"``."""
    if number == 1:
        return name
    stem, suffix = os.path.splitext(name)
    return f"{stem} ({number}){suffix}"


def choose_variant(dest_root: Path, files: Sequence[PlannedFile]) -> int:
    """Return the lowest number whose names are all free or hold identical files.

    Raises OSError from reading an existing local file, and ValueError when
    every number up to MAX_VARIANTS is taken.
    """
    for number in range(1, MAX_VARIANTS + 1):
        if all(_free_or_identical(dest_root, replace(planned, rel_path=variant_name(planned.rel_path, number)))
               for planned in files):
            return number
    raise ValueError(f"{MAX_VARIANTS} different grids named like {files[0].rel_path} exist in {dest_root}; move old ones away")


def _free_or_identical(dest_root: Path, planned: PlannedFile) -> bool:
    final = safe_join(dest_root, planned.rel_path)
    if not os.path.lexists(final):
        return True
    return compare_existing(final, planned).identical


def fetch_grid_files(
    ctx: ToolContext, tool: str, config: ConfigEntry, paths: List[str], dest_root: Path
) -> GridDownload:
    """Download a grid and its sidecar from the pod into ``dest_root`` without replacing a different local grid.

    The agent's ``hash_files`` supplies SHA-256 values, so an identical local
    grid is recognised and the downloaded bytes are verified.
    """
    hashes = run_request(ctx, tool, config, AgentRequest("hash_files", {"paths": list(paths)})) or {}
    files = []
    for path in paths:
        stat = ctx.transport.stat(path)
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        files.append(PlannedFile(path, name, stat.size, stat.mtime, hashes.get(path)))
    number = choose_variant(dest_root, files)
    named = [replace(planned, rel_path=variant_name(planned.rel_path, number)) for planned in files]
    if number > 1:
        log.info("%s on %s: a different local grid exists, saving the new one as %s", tool, config.name, named[0].rel_path)
    report = download_files(ctx, tool, config, named, dest_root)
    unchanged = bool(report.outcomes) and len(report.skipped) == len(report.outcomes)
    return GridDownload(report, number, [planned.rel_path for planned in named], unchanged)


def place_local_grid(built: Sequence[Path], dest_root: Path) -> GridDownload:
    """Move grid files built on this machine into ``dest_root`` under the first free or identical variant.

    ``built`` lists the grid first, then its sidecar if any, each in a
    folder on the same file system as ``dest_root``. Files are linked into
    place, which fails instead of replacing, and the built files are removed.
    Raises OSError when a file cannot be placed.
    """
    files = [PlannedFile(str(path), path.name, path.stat().st_size, path.stat().st_mtime, sha256_file(path)) for path in built]
    dest_root.mkdir(parents=True, exist_ok=True)
    number = choose_variant(dest_root, files)
    names = []
    linked = 0
    for path, planned in zip(built, files):
        name = variant_name(planned.rel_path, number)
        target = safe_join(dest_root, name)
        if not os.path.lexists(target):
            os.link(path, target)
            linked += 1
        os.unlink(path)
        names.append(name)
    return GridDownload(TransferReport(), number, names, unchanged=linked == 0)
