"""A file writer that writes and hashes on worker threads, so the network thread keeps receiving.

hashlib and file writes release the GIL for large buffers, so they overlap
with paramiko's receive loop, which holds the GIL for most of its work.
Writing and hashing each get a thread of their own, so that with a spare
core they also overlap each other. On the 2-core bench machine, where sshd
and the pod's agent share the same cores, sha256 still added about 0.5 s per
GiB to the wall time with either layout (bench/README.md).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, BinaryIO, Callable, List, Optional

log = logging.getLogger(__name__)

# Max bytes received but not yet written or hashed; the receiving thread waits above it.
MAX_PENDING = 32 * 1024 * 1024


class _Consumer:
    """Applies ``action`` to each queued piece on its own thread and keeps the first OSError."""

    def __init__(self, action: Callable[[bytes], Any], name: str, space: threading.Condition) -> None:
        self._action = action
        self._space = space
        self._queue: "queue.Queue[Optional[bytes]]" = queue.Queue()
        self.pending = 0
        self.error: Optional[OSError] = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, data: Optional[bytes]) -> None:
        self._queue.put(data)

    def join(self) -> None:
        self._thread.join()

    def _run(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                return
            if self.error is None:
                try:
                    self._action(data)
                except OSError as exc:
                    log.debug("background %s failed: %s", self._thread.name, exc)
                    self.error = exc
            with self._space:
                self.pending -= len(data)
                self._space.notify_all()


class BackgroundWriter:
    """Writes ``bytes`` to ``target`` and feeds them to ``digest`` (if any) on worker threads.

    ``write`` only queues, so it returns at once while fewer than MAX_PENDING
    bytes wait. A write error of the worker is raised by the next ``write``
    or by ``close``. ``close`` must be called on every path: it writes
    everything queued (so a resumable .part keeps every received byte), stops
    the threads and raises the first write error. Not thread-safe: one
    thread calls ``write`` and ``close``.
    """

    def __init__(self, target: BinaryIO, digest: Any = None, label: str = "") -> None:
        self._space = threading.Condition()
        self._consumers: List[_Consumer] = [_Consumer(target.write, f"ppdesk-writer {label}", self._space)]
        if digest is not None:
            self._consumers.append(_Consumer(digest.update, f"ppdesk-hasher {label}", self._space))
        self._closed = False

    def write(self, data: bytes) -> int:
        self._raise_error()
        size = len(data)
        with self._space:
            while self._must_wait(size):
                self._space.wait()
            for consumer in self._consumers:
                consumer.pending += size
        for consumer in self._consumers:
            consumer.put(data)
        return size

    def close(self) -> None:
        """Write and hash everything queued, stop the workers and raise the first write error (OSError)."""
        if not self._closed:
            self._closed = True
            for consumer in self._consumers:
                consumer.put(None)
            for consumer in self._consumers:
                consumer.join()
        self._raise_error()

    def _must_wait(self, size: int) -> bool:
        for consumer in self._consumers:
            if consumer.error is not None:
                return False
            if consumer.pending and consumer.pending + size > MAX_PENDING:
                return True
        return False

    def _raise_error(self) -> None:
        for consumer in self._consumers:
            if consumer.error is not None:
                raise consumer.error
