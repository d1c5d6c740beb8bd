"""Results and progress events of a download."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable, List


class FileStatus(str, enum.Enum):
    DOWNLOADED = "downloaded"
    SKIPPED = "skipped"  # an identical file was already there
    CONFLICT = "conflict"  # a different file was there and was kept
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class FileOutcome:
    """The outcome of one planned file; ``bytes`` counts bytes fetched in this run."""

    rel: str
    status: FileStatus
    bytes: int = 0
    message: str = ""


@dataclass
class TransferReport:
    """The outcome of every planned file, in plan order, plus totals."""

    outcomes: List[FileOutcome] = field(default_factory=list)
    total_bytes: int = 0
    seconds: float = 0.0

    def _with(self, status: FileStatus) -> List[FileOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status is status]

    @property
    def downloaded(self) -> List[FileOutcome]:
        return self._with(FileStatus.DOWNLOADED)

    @property
    def skipped(self) -> List[FileOutcome]:
        return self._with(FileStatus.SKIPPED)

    @property
    def conflicts(self) -> List[FileOutcome]:
        return self._with(FileStatus.CONFLICT)

    @property
    def failed(self) -> List[FileOutcome]:
        return self._with(FileStatus.FAILED)

    @property
    def cancelled(self) -> List[FileOutcome]:
        return self._with(FileStatus.CANCELLED)

    @property
    def bytes_fetched(self) -> int:
        """Bytes fetched in this run, including those of files that later failed."""
        return sum(outcome.bytes for outcome in self.outcomes)

    @property
    def ok(self) -> bool:
        """True when every file is downloaded or was identical already.

        A conflict makes the report not ok: the local copy differs from the
        pod's file, so the user has to look at it.
        """
        return all(o.status in (FileStatus.DOWNLOADED, FileStatus.SKIPPED) for o in self.outcomes)

    def summary(self) -> str:
        """Return one line for logs and status bars, e.g. ``3 downloaded, 1 skipped``."""
        parts = []
        for status in FileStatus:
            count = len(self._with(status))
            if count:
                parts.append(f"{count} {status.value}")
        return ", ".join(parts) if parts else "no files"


@dataclass(frozen=True)
class TransferProgress:
    """Progress of one file and of the whole download; sizes in bytes.

    ``done_bytes`` counts every planned file's bytes that are present locally:
    resumed ``.part`` bytes and skipped files included.
    """

    rel: str
    file_done: int
    file_total: int
    done_bytes: int
    total_bytes: int
    files_done: int
    files_total: int


ProgressCallback = Callable[[TransferProgress], None]
