"""Fast downloads over SSH: file bytes streamed by the pod's agent, with SFTP as the fallback.

:class:`StreamChannel` runs the agent's ``stream_files`` operation (see
ppdesk/core/stream.py for the wire format) in one session channel and sends
it one range request per fetch, so a file costs one round trip before its
bytes flow. The channel gets a large window and a :mod:`channel_buffer`
receive buffer, because the window bounds the bytes in flight: 2 MiB, the
paramiko default, allows only 40 MB/s at a 50 ms round trip.

:func:`sftp_copy_range` is the SFTP path, used when the agent cannot run.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Dict, List, Optional

import paramiko

from paramiko.buffered_pipe import PipeTimeout

from . import channel_buffer
from .errors import RemoteFileError

if TYPE_CHECKING:
    from ppdesk.cancel import CancelToken

    from .transport import BytesCallback

log = logging.getLogger(__name__)

# Channel window of a stream channel in bytes, which bounds the bytes in
# flight per file and the bytes one channel buffers in client memory. It is
# sized to the measured round trip for WINDOW_RATE bytes per second, within
# these limits. On loopback a window above 4 MiB was slower (380 MB/s with
# 2 MiB, 150 MB/s with 32 MiB, bench/README.md), because paramiko's transport
# thread then decrypts ahead of the reader and both compete for the GIL.
STREAM_WINDOW_MIN = 2 * 1024 * 1024
STREAM_WINDOW_MAX = 16 * 1024 * 1024
WINDOW_RATE = 300 * 1000 * 1000
# Max SSH packet size a stream channel accepts. OpenSSH 9.2 then sends data
# packets of about 42 KiB on average instead of 32 KiB (measured on loopback),
# so paramiko handles fewer packets per megabyte.
STREAM_PACKET = 256 * 1024
# Bytes asked of the channel per recv call; a large value empties the buffer in one call.
RECV_BYTES = 4 * 1024 * 1024
# Max bytes of an announced frame to wait for before reading. It must stay
# below half of STREAM_WINDOW_MIN, so that the pod can always send that much.
WAKE_BYTES = 256 * 1024
# Max bytes of one frame; the agent sends 1 MiB, so more means a corrupt stream.
MAX_FRAME = 16 * 1024 * 1024
# Max length of a header or trailer line; a longer one means the stream is corrupt.
MAX_LINE = 64 * 1024
# SFTP fallback: bytes per read request (paramiko's own request size) and
# bytes requested at once, which bound the memory held per fetch.
SFTP_REQUEST = 32 * 1024
SFTP_WINDOW = 8 * 1024 * 1024

_FRAME_HEADER = struct.Struct(">I")
# Seconds a blocked read waits before it checks the cancel token again.
CANCEL_POLL = 0.25


class StreamBroken(Exception):
    """The stream channel failed, ended or sent something unexpected; the channel is unusable."""


class StreamStalled(StreamBroken):
    """No stream data arrived within the channel timeout."""


@dataclass(frozen=True)
class StreamResult:
    """One served range: bytes written, and the remote size and mtime after the last read."""

    copied: int
    size: int
    mtime: float


class StreamChannel:
    """One running ``stream_files`` agent process on its own session channel.

    Not thread-safe: one thread uses one channel. Any exception other than
    RemoteFileError leaves the channel in an unknown state, so the caller
    must close it and open a new one.
    """

    def __init__(self, channel: paramiko.Channel, buffer: channel_buffer.ChunkBuffer) -> None:
        self._channel = channel
        self._buffer = buffer
        self._pending = bytearray()
        self._cancel: Optional["CancelToken"] = None
        # The channel's timeout is the stall limit, but reads wait in slices of
        # CANCEL_POLL, so that Cancel also ends a read from a stalled server.
        self._stall_limit: Optional[float] = channel.gettimeout()
        channel.settimeout(CANCEL_POLL)

    @classmethod
    def open(
        cls, transport: paramiko.Transport, command: str, request: bytes, timeout: float, window: int
    ) -> "StreamChannel":
        """Open a session channel with a ``window`` of bytes, start ``command`` and send the agent ``request`` line.

        ``timeout`` (seconds) bounds the channel open and every later read.
        Raises paramiko.SSHException or OSError when the channel cannot be set up.
        """
        channel = transport.open_session(window_size=window, max_packet_size=STREAM_PACKET, timeout=timeout)
        try:
            buffer = channel_buffer.install(channel)
            channel.settimeout(timeout)
            channel.exec_command(command)
            channel.sendall(request + b"\n")
        except BaseException:
            channel.close()
            raise
        return cls(channel, buffer)

    def close(self) -> None:
        """End the agent process by closing its stdin and the channel; safe to call twice."""
        try:
            if not self._channel.closed:
                self._channel.shutdown_write()
            self._channel.close()
        except (OSError, EOFError, paramiko.SSHException) as exc:
            # A dead link cannot carry the close messages, and the pod's
            # process ends with its connection anyway.
            log.debug("closing the stream channel failed: %s", exc)

    def fetch(
        self,
        path: str,
        dest: BinaryIO,
        offset: int,
        length: Optional[int],
        on_bytes: Optional["BytesCallback"],
        cancel: Optional["CancelToken"],
    ) -> StreamResult:
        """Write bytes ``[offset, offset+length)`` of ``path`` to ``dest``; ``length`` None means to the end.

        Raises RemoteFileError when the pod cannot read the file (the channel
        stays usable), StreamBroken when the channel fails, ends early or
        sends a corrupt stream,
        StreamStalled when a read waits longer than the channel timeout,
        and Cancelled between two frames of 1 MiB. Write errors on ``dest``
        propagate as OSError.
        """
        self._cancel = cancel
        try:
            return self._fetch(path, dest, offset, length, on_bytes, cancel)
        finally:
            self._cancel = None

    def _fetch(
        self,
        path: str,
        dest: BinaryIO,
        offset: int,
        length: Optional[int],
        on_bytes: Optional["BytesCallback"],
        cancel: Optional["CancelToken"],
    ) -> StreamResult:
        request = {"path": path, "offset": offset, "length": length}
        self._send(json.dumps(request, ensure_ascii=True).encode("ascii") + b"\n")

        header = self._read_message()
        if header.get("type") == "file_error":
            raise RemoteFileError(f"cannot read {path} on the pod: {header.get('message') or header.get('kind')}")
        if header.get("type") != "file":
            raise StreamBroken(f"expected a file header, got {header!r}")

        copied = self._copy_frames(dest, on_bytes, cancel)

        trailer = self._read_message()
        if trailer.get("type") != "end" or trailer.get("bytes") != copied:
            raise StreamBroken(f"expected the end of {path} after {copied} bytes, got {trailer!r}")
        if trailer.get("error"):
            raise RemoteFileError(f"cannot read {path} on the pod: {trailer['error']}")
        return StreamResult(copied=copied, size=int(trailer["size"]), mtime=float(trailer["mtime"]))

    def _copy_frames(self, dest: BinaryIO, on_bytes: Optional["BytesCallback"], cancel: Optional["CancelToken"]) -> int:
        copied = 0
        while True:
            if cancel is not None:
                cancel.raise_if_cancelled()
            size = _FRAME_HEADER.unpack(self._read_exact(_FRAME_HEADER.size))[0]
            if size == 0:
                return copied
            if size > MAX_FRAME:
                raise StreamBroken(f"the stream announced a frame of {size} bytes, more than {MAX_FRAME}")
            # One write per frame (1 MiB from the pod) keeps writes and hash updates large.
            dest.write(self._read_exact(size))
            copied += size
            if on_bytes is not None:
                on_bytes(size)

    def _read_exact(self, count: int) -> bytes:
        """Return exactly ``count`` bytes, buffered ones first, without reading past them."""
        parts = []
        remaining = count
        if self._pending:
            head = bytes(self._pending[:remaining])
            del self._pending[: len(head)]
            parts.append(head)
            remaining -= len(head)
        while remaining:
            self._wait_for(min(remaining, WAKE_BYTES))
            data = self._recv(min(remaining, RECV_BYTES))
            if not data:
                raise StreamBroken(f"the stream ended {remaining} bytes before the end of a frame")
            parts.append(data)
            remaining -= len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _read_message(self) -> Dict[str, Any]:
        while True:
            end = self._pending.find(b"\n")
            if end >= 0:
                break
            if len(self._pending) > MAX_LINE:
                raise StreamBroken("the stream sent a line longer than 64 KiB")
            self._receive()
        line = bytes(self._pending[:end])
        del self._pending[: end + 1]
        try:
            message = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise StreamBroken(f"the stream sent a line that is not JSON: {line[:200]!r}") from exc
        if not isinstance(message, dict):
            raise StreamBroken(f"the stream sent {message!r} instead of a JSON object")
        if message.get("type") == "error":
            raise StreamBroken(f"the agent failed: {message.get('kind')}: {message.get('message')}")
        return message

    def _receive(self) -> None:
        data = self._recv(RECV_BYTES)
        if not data:
            stderr = self._stderr_tail()
            raise StreamBroken("the stream ended early" + (f"; agent stderr: {stderr}" if stderr else ""))
        self._pending += data

    def _send(self, data: bytes) -> None:
        try:
            self._channel.sendall(data)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise StreamBroken(f"cannot send a stream request: {exc or type(exc).__name__}") from exc

    def _wait_for(self, count: int) -> None:
        # Waits in CANCEL_POLL slices like _recv: the channel timeout is the
        # slice, not the stall limit, so a single wait would call a short pause a stall.
        started = time.monotonic()
        while True:
            if self._cancel is not None:
                self._cancel.raise_if_cancelled()
            try:
                self._buffer.wait_for(count, CANCEL_POLL)
                return
            except PipeTimeout as exc:
                self._raise_if_stalled(started, exc)

    def _recv(self, limit: int) -> bytes:
        started = time.monotonic()
        while True:
            if self._cancel is not None:
                self._cancel.raise_if_cancelled()
            try:
                return self._channel.recv(limit)
            except socket.timeout as exc:
                self._raise_if_stalled(started, exc)
            except (OSError, EOFError, paramiko.SSHException) as exc:
                raise StreamBroken(f"the stream channel failed: {exc or type(exc).__name__}") from exc

    def _raise_if_stalled(self, started: float, timeout: Exception) -> None:
        """Raise StreamStalled, chained to ``timeout``, once the stall limit has passed since ``started``."""
        if self._stall_limit is not None and time.monotonic() - started >= self._stall_limit:
            raise StreamStalled(f"stalled: no stream data for {self._stall_limit:.0f} s") from timeout

    def _stderr_tail(self) -> str:
        if not self._channel.recv_stderr_ready():
            return ""
        return self._channel.recv_stderr(4096).decode("utf-8", errors="replace").strip()[-500:]


def sftp_copy_range(
    handle: paramiko.SFTPFile,
    dest: BinaryIO,
    start: int,
    end: int,
    on_bytes: Optional["BytesCallback"],
    cancel: Optional["CancelToken"],
) -> int:
    """Copy bytes ``[start, end)`` of an open SFTP file into ``dest``; return the count.

    Each readv call requests SFTP_WINDOW bytes in SFTP_REQUEST pieces, all at
    once. A concurrency limit is not passed on purpose: paramiko 5.1 enforces
    one by polling every 10 ms, which caps throughput, so the window size
    bounds memory instead. Stops early when the file ends. SFTP errors
    propagate for the caller to map.
    """
    copied = 0
    position = start
    while position < end:
        window_end = min(end, position + SFTP_WINDOW)
        pieces = [(at, min(SFTP_REQUEST, window_end - at)) for at in range(position, window_end, SFTP_REQUEST)]
        for (_, expected), data in zip(pieces, handle.readv(pieces)):
            if cancel is not None:
                cancel.raise_if_cancelled()
            dest.write(data)
            copied += len(data)
            if on_bytes is not None:
                on_bytes(len(data))
            if len(data) < expected:
                # A short read means the file shrank while we read it.
                return copied
        position = window_end
    return copied


def measure_round_trip(transport: paramiko.Transport) -> float:
    """Return the shorter of two waits for the reply to a keepalive global request, in seconds (any reply counts).

    On loopback with OpenSSH 9.2 the first request after the login waited
    about 44 ms and the next ones 0.1-0.5 ms, also with TCP_NODELAY set on
    the client. The cause was not found; 44 ms is close to Linux's 40 ms
    delayed ACK. One sample would then size a loopback window as if the pod
    were far away. Raises paramiko.SSHException or EOFError when the link fails.
    """
    samples = []
    for _ in range(2):
        started = time.monotonic()
        transport.global_request("keepalive@openssh.com", wait=True)
        samples.append(time.monotonic() - started)
    return min(samples)


def window_for_round_trip(seconds: float) -> int:
    """Return the stream window for a round trip of ``seconds``: WINDOW_RATE times it, within the limits."""
    return int(min(STREAM_WINDOW_MAX, max(STREAM_WINDOW_MIN, seconds * WINDOW_RATE)))


class StreamPool:
    """Idle stream channels of one SSH connection, lent to one fetch at a time.

    Channels go back to the pool after a clean fetch, so the number of
    session channels stays at the number of concurrent fetches; OpenSSH
    refuses more than MaxSessions (10 by default) per connection. A channel
    that failed is closed instead. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: List[StreamChannel] = []
        self._open: List[StreamChannel] = []
        self._closed = False

    def take(self) -> Optional[StreamChannel]:
        """Return an idle channel, or None when the caller should open one and pass it to ``track``."""
        with self._lock:
            return self._idle.pop() if self._idle else None

    def open_count(self) -> int:
        """Return the number of channels of this pool that are open, lent or idle."""
        with self._lock:
            return len(self._open)

    def track(self, channel: StreamChannel) -> None:
        with self._lock:
            self._open.append(channel)

    def give_back(self, channel: StreamChannel, healthy: bool) -> None:
        """Return ``channel`` after use; an unhealthy one, or any after ``close_all``, is closed."""
        with self._lock:
            keep = healthy and not self._closed
            if keep:
                self._idle.append(channel)
            elif channel in self._open:
                self._open.remove(channel)
        if not keep:
            channel.close()

    def close_all(self) -> None:
        with self._lock:
            self._closed = True
            channels, self._open, self._idle = self._open, [], []
        for channel in channels:
            channel.close()
