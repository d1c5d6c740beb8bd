"""The check of the local destination folder before a run writes into it.

A destination that is a file or cannot be written would make every download
of a run fail on its own with the same error, after the pod did its work.
The check touches the disk, so it runs in the run's worker.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Optional

log = logging.getLogger(__name__)


class DestinationError(ValueError):
    """The destination cannot receive a run's files; the message names the path and what to do."""


def prepare_destination(path: Path) -> bool:
    """Check that ``path`` is a folder this process can write to, and create it when it is missing.

    Returns True when the folder was created. Raises DestinationError when
    ``path`` is a file, cannot be created or is not writable. Worker thread
    only: it creates folders and a temporary file.
    """
    if path.exists() and not path.is_dir():
        raise DestinationError(f"The destination {path} is a file, not a folder; choose a folder for the downloads.")

    created = False
    if not path.is_dir():
        _create_folder(path)
        created = True
        log.info("created the destination folder %s", path)

    try:
        # Creating a file is the sure test, because permission bits do not show a read-only mount or ACLs.
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise DestinationError(
            f"The destination folder {path} is not writable ({exc.strerror or exc}); "
            f"choose another folder or change its permissions."
        ) from None
    return created


def _create_folder(path: Path) -> None:
    blocker = _file_on_the_way(path)
    if blocker is not None:
        raise DestinationError(
            f"Cannot create the destination folder {path}, because {blocker} is a file; choose another folder."
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DestinationError(
            f"Cannot create the destination folder {path} ({exc.strerror or exc}); choose another folder."
        ) from None


def _file_on_the_way(path: Path) -> Optional[Path]:
    """Return the nearest existing parent of ``path`` when it is not a folder, else None."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None
