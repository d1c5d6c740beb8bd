"""The ``stream_files`` operation: file bytes sent down the agent's stdout, for fast downloads.

SFTP through paramiko costs one request per 32 KiB and one round trip per
open, stat and close. This operation reads files next to the workspace and
writes their bytes straight to stdout, so a download of many files costs
one round trip per file and a large file flows at the speed of the channel.

The process serves range requests until stdin ends. After the usual JSON
request line (args ``{}``), each further stdin line is one JSON request
``{"path": abs path, "offset": int, "length": int or null}``. An empty line
or the end of input stops the loop, and the usual result line follows. For
each request stdout carries:

1. a header line, ``{"type": "file", "size": int, "mtime": float}`` or
   ``{"type": "file_error", "kind": "not_found"|"unreadable", "message": str}``
   (then nothing else for that request);
2. after a ``file`` header, frames of a 4-byte big-endian length and that
   many bytes, ended by a frame of length 0;
3. a trailer line ``{"type": "end", "bytes": int, "size": int, "mtime":
   float, "error": str or null}`` with the stat taken after the last read.

Fewer bytes than requested arrive when the file ends early or a read fails,
and the trailer reports which.
"""

from __future__ import annotations

import json
import os
import stat
import struct
import sys
from typing import IO, Any, Dict, Optional, Tuple

from .layout import WorkspaceLayout
from .protocol import AgentFailure, Emitter

# Bytes read from the file per frame.
FRAME_BYTES = 1024 * 1024
_FRAME_HEADER = struct.Struct(">I")


def op_stream_files(layout: WorkspaceLayout, args: Dict[str, Any], emit: Emitter) -> Dict[str, int]:
    """Serve range requests read from stdin until an empty line or end of input; see the module docstring."""
    sys.stdout.flush()
    out = sys.stdout.buffer
    served = 0
    for line in iter(sys.stdin.buffer.readline, b""):
        if not line.strip():
            break
        serve_request(_parse_request(line), out)
        out.flush()
        served += 1
    return {"served": served}


def _parse_request(line: bytes) -> Dict[str, Any]:
    try:
        request = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise AgentFailure("invalid_request", f"stream request is not valid JSON: {exc}") from exc
    if not isinstance(request, dict) or not isinstance(request.get("path"), str):
        raise AgentFailure("invalid_request", f"stream request {request!r} needs a 'path' string")
    offset = request.get("offset", 0)
    length = request.get("length")
    if not isinstance(offset, int) or offset < 0 or (length is not None and (not isinstance(length, int) or length < 0)):
        raise AgentFailure("invalid_request", f"stream request {request!r} needs offset >= 0 and length >= 0 or null")
    return request


def serve_request(request: Dict[str, Any], out: IO[bytes]) -> int:
    """Write the header, frames and trailer for one request to ``out``; return the bytes sent."""
    path = request["path"]
    try:
        handle = _open_regular(path)
    except FileNotFoundError:
        _write_line(out, {"type": "file_error", "kind": "not_found", "message": "no such file"})
        return 0
    except OSError as exc:
        _write_line(out, {"type": "file_error", "kind": "unreadable", "message": str(exc.strerror or exc)})
        return 0

    with handle:
        info = os.fstat(handle.fileno())
        _write_line(out, {"type": "file", "size": info.st_size, "mtime": info.st_mtime})
        sent, error = _send_frames(handle, out, request.get("offset", 0), request.get("length"))

    after = _stat_or_none(path)
    _write_line(out, {
        "type": "end",
        "bytes": sent,
        "size": after.st_size if after is not None else -1,
        "mtime": after.st_mtime if after is not None else 0.0,
        "error": error,
    })
    return sent


def _send_frames(handle: IO[bytes], out: IO[bytes], offset: int, length: Optional[int]) -> Tuple[int, Optional[str]]:
    sent = 0
    error = None
    buffer = bytearray(FRAME_BYTES)
    view = memoryview(buffer)
    try:
        handle.seek(offset)
        while length is None or sent < length:
            wanted = FRAME_BYTES if length is None else min(FRAME_BYTES, length - sent)
            count = handle.readinto(view[:wanted])  # type: ignore[attr-defined]
            if not count:
                break
            out.write(_FRAME_HEADER.pack(count))
            out.write(view[:count])
            sent += count
    except OSError as exc:
        error = f"read failed after {sent} bytes: {exc.strerror or exc}"
    out.write(_FRAME_HEADER.pack(0))
    return sent, error


def _open_regular(path: str) -> IO[bytes]:
    """Open ``path`` for reading; raise OSError unless it is a regular file.

    The open does not block, so a FIFO planted in the workspace cannot hang the agent.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _stat_or_none(path: str) -> Optional[os.stat_result]:
    try:
        return os.stat(path)
    except OSError:
        return None


def _write_line(out: IO[bytes], message: Dict[str, Any]) -> None:
    out.write(json.dumps(message, ensure_ascii=True).encode("ascii") + b"\n")
