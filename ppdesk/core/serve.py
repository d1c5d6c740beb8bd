"""Serve mode: one agent process that handles many requests, one per stdin line.

A client that keeps a connection open sends ``{"op": "serve"}`` as the
first line. The process then writes ``{"type": "ready", "protocol": N,
"pid": N}`` and reads requests, each a JSON object on one line with an
``id`` (any JSON value but null) next to the usual ``op``, ``layout`` and
``args``. Every reply line carries that ``id``, and the reply to each
request ends with its ``result`` or ``error`` line before the next request
is read. An empty line or the end of stdin ends the process with status 0.

``stream_files`` and ``serve`` itself are rejected here, because
``stream_files`` reads its own requests from stdin and would take the
following requests.
"""

from __future__ import annotations

import json
import os
from typing import IO, Any, Dict

from .agent import SERVE_OP, handle
from .protocol import PROTOCOL_VERSION, Emitter

# Operations that need a process of their own.
SINGLE_PROCESS_OPS = frozenset({SERVE_OP, "stream_files"})


def serve_requests(stdin: IO[bytes], stdout: IO[str]) -> int:
    """Handle request lines from ``stdin`` until an empty line or end of input; return the exit status."""
    _write_line(stdout, {"type": "ready", "protocol": PROTOCOL_VERSION, "pid": os.getpid()})
    for line in iter(stdin.readline, b""):
        if not line.strip():
            break
        _serve_one(line, stdout)
    return 0


def _serve_one(line: bytes, stdout: IO[str]) -> None:
    try:
        request = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        Emitter(stdout).error("invalid_request", f"request line is not valid JSON: {exc}")
        return
    request_id = request.get("id") if isinstance(request, dict) else None
    emit = Emitter(stdout, request_id)
    if request_id is None:
        emit.error("invalid_request", "a request in serve mode needs an 'id' that is not null")
        return
    if request.get("op") in SINGLE_PROCESS_OPS:
        emit.error(
            "invalid_request",
            f"operation {request.get('op')!r} cannot run in serve mode; start a process of its own for it",
        )
        return
    handle(request, emit)


def _write_line(stdout: IO[str], message: Dict[str, Any]) -> None:
    stdout.write(json.dumps(message, ensure_ascii=True) + "\n")
    stdout.flush()
