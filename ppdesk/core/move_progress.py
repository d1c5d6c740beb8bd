"""Progress lines of a LoRA mover run, counted in files or in bytes."""

from __future__ import annotations

import time
from typing import Callable, Dict, Optional

from .protocol import Emitter
from .safe_copy import ProgressCallback

# The phase of byte progress lines. Comparing with an existing file counts as copying too.
PHASE_COPYING = "copying"


class ClientGone(Exception):
    """A progress line could not be written: the client cancelled or its connection dropped."""


class RunProgress:
    """The progress lines of one mover run.

    Each finished file gets a line. These lines count files (unit
    ``items``) until a copy or comparison runs long enough to report bytes.
    From the first byte line on, every line counts the bytes of the whole
    run (unit ``bytes``, phase ``copying``), so that a reader never sees the
    unit switch back. A byte line goes out at most every ``interval``
    seconds, and never for the chunk that ends a file, because the file's
    own line follows at once. Byte counts never decrease.
    """

    def __init__(
        self, emit: Emitter, files: int, total_bytes: int, interval: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._emit = emit
        self._files = files
        self._total = total_bytes
        self._interval = interval
        self._clock = clock
        self._last_line = clock()
        self._finished_bytes = 0
        self._reported = 0
        self._counting_bytes = False

    def reporter(self, name: str) -> ProgressCallback:
        """Return the chunk callback for copying or comparing the destination file ``name``."""

        def report(action: str, done: int, size: int) -> None:
            if done >= size or self._clock() - self._last_line < self._interval:
                return
            self._counting_bytes = True
            message = f"{action} {name}: {format_size(done)} of {format_size(size)}"
            self._send_bytes(self._finished_bytes + done, message)

        return report

    def file_done(self, index: int, name: str, outcome: str, message: str, size: int) -> None:
        """Send the line for the ``index``-th file (from 1), whose source has ``size`` bytes.

        ``outcome`` (copied, skipped, conflict or failed) and the destination
        file ``name`` travel as the line's ``finished`` field, so that a
        client can tell what a cancelled run had done.
        """
        self._finished_bytes += size
        finished = {"name": name, "outcome": outcome}
        if self._counting_bytes:
            self._send_bytes(self._finished_bytes, message, finished)
        else:
            self._write(index, self._files, message, "items", None, finished)

    def _send_bytes(self, done: int, message: str, finished: Optional[Dict[str, str]] = None) -> None:
        # A file that grew since planning, or one compared again after a
        # lost race, must not move the count backwards or past the total.
        self._reported = max(self._reported, done)
        self._total = max(self._total, self._reported)
        self._write(self._reported, self._total, message, "bytes", PHASE_COPYING, finished)

    def _write(
        self, done: int, total: int, message: str, unit: str, phase: Optional[str],
        finished: Optional[Dict[str, str]] = None,
    ) -> None:
        try:
            self._emit.progress(done, total, message, unit=unit, phase=phase, finished=finished)
        except (OSError, ValueError) as exc:
            # ValueError: the stream was closed in this process.
            raise ClientGone(f"writing a progress line failed ({exc}), so the copy stopped") from exc
        self._last_line = self._clock()


def format_size(count: int) -> str:
    """Format a byte count in binary units: ``512 B``, ``64.0 KiB``, ``1.5 GiB``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
