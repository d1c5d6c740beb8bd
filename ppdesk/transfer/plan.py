"""Download plans: the planned files, and the check on local paths.

A plan comes from the agent's ``plan_download`` operation. Every relative
name in it is remote data, so :func:`safe_join` checks it before the engine
writes anything: a name may only ever address a file inside the destination.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class PlannedFile:
    """One remote file to download.

    ``remote_path`` is the absolute path on the pod, ``rel_path`` the posix
    path below the local destination, ``size`` in bytes, ``mtime`` in seconds
    since the epoch, and ``sha256`` the lowercase hex digest when the pod
    computed one (weight files), else None.
    """

    remote_path: str
    rel_path: str
    size: int
    mtime: float
    sha256: Optional[str] = None

    @classmethod
    def from_agent(cls, entry: Dict[str, Any]) -> "PlannedFile":
        """Build from one ``files`` entry of a ``plan_download`` result.

        Raises ValueError naming the entry when a field is missing or has the
        wrong type.
        """
        try:
            sha = entry.get("sha256")
            return cls(
                remote_path=str(entry["path"]),
                rel_path=str(entry["rel"]),
                size=int(entry["size"]),
                mtime=float(entry["mtime"]),
                sha256=str(sha).lower() if sha else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"invalid plan entry {entry!r}: {exc}") from exc


def planned_files(files: Iterable[Dict[str, Any]]) -> List[PlannedFile]:
    """Convert the ``files`` list of a ``plan_download`` result."""
    return [PlannedFile.from_agent(entry) for entry in files]


def safe_join(dest_root: Path, rel: str) -> Path:
    """Return ``dest_root / rel`` after checking that ``rel`` stays inside it.

    ``rel`` must be a relative posix path of non-empty segments. Raises
    ValueError naming the value for an absolute path, a drive letter such as
    ``C:``, a backslash, a NUL byte, an empty segment (``a//b``, a trailing
    ``/``), ``.`` or ``..``. On Windows a ``:`` anywhere is rejected too,
    because NTFS would read it as an alternate data stream.
    """
    if not isinstance(rel, str) or rel == "":
        raise ValueError(f"invalid file name {rel!r}: it must be a non-empty relative path")
    if "\x00" in rel:
        raise ValueError(f"invalid file name {rel!r}: it contains a NUL byte")
    if "\\" in rel:
        raise ValueError(f"invalid file name {rel!r}: backslashes are not allowed")
    if rel.startswith("/"):
        raise ValueError(f"invalid file name {rel!r}: absolute paths are not allowed")

    for segment in rel.split("/"):
        if segment in ("", ".", ".."):
            raise ValueError(f"invalid file name {rel!r}: segment {segment!r} is not allowed")
        if _DRIVE.match(segment):
            raise ValueError(f"invalid file name {rel!r}: drive letters are not allowed")
        if os.name == "nt" and ":" in segment:
            raise ValueError(f"invalid file name {rel!r}: ':' is not allowed on Windows")

    return Path(dest_root).joinpath(*rel.split("/"))
