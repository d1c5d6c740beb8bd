"""A receive buffer for paramiko channels that stays fast when it contains many megabytes.

NOTE: checked against paramiko 5.1. A paramiko Channel keeps received data
in ``channel.in_buffer``, a ``BufferedPipe`` backed by one ``array.array``.
Each read copies the part it returns and shifts or frees the rest, and the
array grows again packet by packet afterwards. With a 16 MiB window, py-spy
put 17% of a download's samples in that copying (bench/README.md).
:class:`ChunkBuffer` keeps the received packets as a list of ``bytes``
objects instead, so a read joins only what it returns. Its ``wait_for``
also lets a reader sleep until a batch of data is there, instead of being
woken for every packet.

:func:`install` replaces ``in_buffer`` of a channel that has not received
data yet. The replacement implements every method that paramiko 5.1 calls on
``in_buffer``: ``feed``, ``read``, ``read_ready``, ``set_event``, ``empty``,
``close`` and ``__len__``. It raises PipeTimeout on a read timeout, which
``Channel.recv`` turns into ``socket.timeout``.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Deque, Optional

import paramiko
from paramiko.buffered_pipe import PipeTimeout

# Method names paramiko calls on Channel.in_buffer; install() checks that the
# original buffer has them, so a paramiko that changed the interface is noticed.
_PIPE_METHODS = ("feed", "read", "read_ready", "set_event", "empty", "close", "__len__")


class ChunkBuffer:
    """A thread-safe byte queue with paramiko's BufferedPipe interface.

    ``feed`` runs on paramiko's transport thread, ``read`` on the reader's
    thread. ``read`` returns at most ``nbytes`` and splits a chunk only when
    it must.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._chunks: Deque[bytes] = collections.deque()
        self._size = 0
        self._closed = False
        self._event: Optional[threading.Event] = None
        # Bytes a reader in wait_for needs; feed wakes readers only once they are there.
        self._wake_at = 1

    def set_event(self, event: threading.Event) -> None:
        """Set ``event`` while data is buffered or the buffer is closed, clear it otherwise."""
        with self._lock:
            self._event = event
            if self._closed or self._size:
                event.set()
            else:
                event.clear()

    def feed(self, data: bytes) -> None:
        with self._lock:
            if data:
                self._chunks.append(bytes(data))
                self._size += len(data)
            if self._event is not None:
                self._event.set()
            if self._size >= self._wake_at:
                self._ready.notify_all()

    def wait_for(self, count: int, timeout: Optional[float] = None) -> None:
        """Wait until ``count`` bytes are buffered or the buffer is closed.

        Fewer wake-ups than one per packet save much of the thread switching
        on a fast link. The caller must know that ``count`` bytes are on
        their way and fit in the channel window, or it waits for the
        timeout. Raises PipeTimeout after ``timeout`` seconds (None: forever).
        """
        with self._lock:
            deadline = None if timeout is None else time.monotonic() + timeout
            self._wake_at = max(1, count)
            try:
                while self._size < count and not self._closed:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise PipeTimeout()
                    self._ready.wait(remaining)
            finally:
                self._wake_at = 1

    def read_ready(self) -> bool:
        with self._lock:
            return self._size > 0

    def read(self, nbytes: int, timeout: Optional[float] = None) -> bytes:
        """Return up to ``nbytes`` bytes, waiting up to ``timeout`` seconds (None: forever).

        Returns b"" once the buffer is closed and empty. Raises PipeTimeout
        when nothing arrived within ``timeout``.
        """
        with self._lock:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self._size and not self._closed:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise PipeTimeout()
                self._ready.wait(remaining)
            out = self._take(nbytes)
            if not self._size and self._event is not None and not self._closed:
                self._event.clear()
            return out

    def _take(self, nbytes: int) -> bytes:
        parts = []
        wanted = nbytes
        while wanted > 0 and self._chunks:
            chunk = self._chunks[0]
            if len(chunk) <= wanted:
                parts.append(self._chunks.popleft())
                wanted -= len(chunk)
            else:
                parts.append(chunk[:wanted])
                self._chunks[0] = chunk[wanted:]
                wanted = 0
        out = parts[0] if len(parts) == 1 else b"".join(parts)
        self._size -= len(out)
        return out

    def empty(self) -> bytes:
        """Remove and return everything buffered."""
        with self._lock:
            out = b"".join(self._chunks)
            self._chunks.clear()
            self._size = 0
            if self._event is not None and not self._closed:
                self._event.clear()
            return out

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._event is not None:
                self._event.set()
            self._wake_at = 1
            self._ready.notify_all()

    def __len__(self) -> int:
        with self._lock:
            return self._size


def install(channel: paramiko.Channel) -> ChunkBuffer:
    """Give ``channel`` a ChunkBuffer for its stdout data; call before the first byte arrives.

    Raises RuntimeError when the channel already contains data or its buffer
    lacks a method this module replaces, because then paramiko changed and
    the replacement is no longer known to be safe.
    """
    original = channel.in_buffer
    missing = [name for name in _PIPE_METHODS if not hasattr(original, name)]
    if missing:
        raise RuntimeError(f"paramiko {paramiko.__version__} Channel.in_buffer lacks {missing}; update channel_buffer.py")
    if len(original):
        raise RuntimeError("channel_buffer.install must run before the channel receives data")
    replacement = ChunkBuffer()
    channel.in_buffer = replacement
    return replacement
