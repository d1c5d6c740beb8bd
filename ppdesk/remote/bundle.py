"""The core package as a zip application for upload to a pod.

``python3 ppdesk-core-<hash>.pyz`` runs the agent with the pod's own Python.
The archive contains the ``ppdesk/core`` sources, an empty ``ppdesk/__init__.py``
and a ``__main__.py``. It is built in memory and deterministically (sorted
entries, fixed timestamps and permissions), so its sha256 changes only with
the sources and the upload cache on the pod can be keyed by it.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

log = logging.getLogger(__name__)

# 1980-01-01 is the earliest date a zip entry can carry.
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o644 << 16

_MAIN = b"""import sys

from ppdesk.core.agent import main

sys.exit(main())
"""


@dataclass(frozen=True)
class Bundle:
    """The zip application bytes and their sha256 hex digest."""

    data: bytes
    sha256: str

    @property
    def filename(self) -> str:
        """The upload name, ``ppdesk-core-<first 16 hex digits>.pyz``."""
        return f"ppdesk-core-{self.sha256[:16]}.pyz"


def core_source_dir() -> Path:
    """Return the folder that contains the ``ppdesk/core`` sources.

    In a PyInstaller build the sources are read from
    ``<sys._MEIPASS>/ppdesk/core``, so the spec file must add the core
    ``*.py`` files as data under ``ppdesk/core``.
    """
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "ppdesk" / "core"
    return Path(__file__).resolve().parents[1] / "core"


def _source_files(source_dir: Path) -> List[Tuple[str, Path]]:
    """List (archive name, file) pairs for every ``*.py`` below ``source_dir``, sorted."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(source_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in filenames:
            if not name.endswith(".py"):
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(source_dir).as_posix()
            entries.append((f"ppdesk/core/{rel}", path))
    return sorted(entries)


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = _FILE_MODE
    info.create_system = 3  # Unix, so the mode above means the same on every client
    archive.writestr(info, data)


def build_bundle(source_dir: Optional[Path] = None) -> Bundle:
    """Build the zip application from ``source_dir`` (default :func:`core_source_dir`).

    Raises FileNotFoundError naming the folder when it contains no ``agent.py``.
    """
    source = source_dir or core_source_dir()
    if not (source / "agent.py").is_file():
        raise FileNotFoundError(f"core sources not found: {source / 'agent.py'} is missing")

    members = {"__main__.py": _MAIN, "ppdesk/__init__.py": b""}
    for name, path in _source_files(source):
        members[name] = path.read_bytes()

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(members):
            _add(archive, name, members[name])
    data = buffer.getvalue()
    bundle = Bundle(data=data, sha256=hashlib.sha256(data).hexdigest())
    log.debug("built %s from %s: %d files, %d bytes", bundle.filename, source, len(members), len(data))
    return bundle


@functools.lru_cache(maxsize=1)
def core_bundle() -> Bundle:
    """Return the bundle of the installed core sources, built once per process."""
    return build_bundle()
