"""A file writer that hashes and writes on its own thread, so the network thread keeps receiving.

hashlib and file writes release the GIL for large buffers, so on a second
core they overlap with paramiko's receive loop, which holds the GIL for most
of its work.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, BinaryIO, Optional

log = logging.getLogger(__name__)

# Max bytes received but not yet written; the receiving thread waits above it.
MAX_PENDING = 32 * 1024 * 1024


class BackgroundWriter:
    """Writes ``bytes`` to ``target`` and feeds them to ``digest`` (if any) on a worker thread.

    ``write`` only queues, so it returns at once while fewer than MAX_PENDING
    bytes wait. A write error of the worker is raised by the next ``write``
    or by ``close``. ``close`` must be called on every path: it writes
    everything queued (so a resumable .part keeps every received byte), stops
    the thread and raises the first write error. Not thread-safe: one
    thread calls ``write`` and ``close``.
    """

    def __init__(self, target: BinaryIO, digest: Any = None, label: str = "") -> None:
        self._target = target
        self._digest = digest
        self._queue: "queue.Queue[Optional[bytes]]" = queue.Queue()
        self._space = threading.Condition()
        self._pending = 0
        self._error: Optional[OSError] = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"ppdesk-writer {label}", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> int:
        self._raise_error()
        size = len(data)
        with self._space:
            while self._pending and self._pending + size > MAX_PENDING and self._error is None:
                self._space.wait()
            self._pending += size
        self._queue.put(data)
        return size

    def close(self) -> None:
        """Write everything queued, stop the worker and raise its first write error (OSError)."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()
        self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                return
            if self._error is None:
                try:
                    self._target.write(data)
                    if self._digest is not None:
                        self._digest.update(data)
                except OSError as exc:
                    log.debug("background write failed: %s", exc)
                    self._error = exc
            with self._space:
                self._pending -= len(data)
                self._space.notify_all()
