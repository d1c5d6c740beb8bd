"""The agent's wire format: one JSON request in, JSON lines out.

Request (stdin, one JSON document)::

    {"op": "scan", "layout": {...WorkspaceLayout...}, "args": {...}}

Each stdout line is one JSON object with a ``type``:

- ``{"type": "progress", "done": 3, "total": 10, "message": "...", "unit": "items"}``
  (``unit`` is ``items`` or ``bytes``; an optional ``phase`` names the step,
  such as ``hashing``)
- ``{"type": "warning", "message": "..."}``
- ``{"type": "result", "data": ...}`` (exactly one on success, last line)
- ``{"type": "error", "kind": "...", "message": "..."}`` (instead of result)

Nothing but these lines is written to stdout; diagnostics go to stderr.

Serve mode (see :mod:`ppdesk.core.serve`) keeps one process for many
requests: each request line carries an ``id`` and every reply line repeats
it, so that the client can match replies to requests.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any, Dict, Optional

PROTOCOL_VERSION = 1


class Emitter:
    """Writes protocol lines to a text stream, flushing each one.

    With a ``request_id`` every line gets an ``id`` field with that value.
    """

    def __init__(self, stream: Optional[IO[str]] = None, request_id: Any = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._request_id = request_id

    def _write(self, obj: dict) -> None:
        if self._request_id is not None:
            obj["id"] = self._request_id
        self._stream.write(json.dumps(obj, ensure_ascii=True) + "\n")
        self._stream.flush()

    def progress(
        self,
        done: int,
        total: int,
        message: str = "",
        unit: str = "items",
        phase: Optional[str] = None,
        finished: Optional[Dict[str, str]] = None,
    ) -> None:
        """Write a progress line; ``finished`` is ``{"name", "outcome"}`` of an item this step just completed."""
        line: Dict[str, Any] = {"type": "progress", "done": done, "total": total, "message": message, "unit": unit}
        if phase:
            line["phase"] = phase
        if finished:
            line["finished"] = dict(finished)
        self._write(line)

    def warning(self, message: str) -> None:
        self._write({"type": "warning", "message": message})

    def result(self, data: Any) -> None:
        self._write({"type": "result", "data": data})

    def error(self, kind: str, message: str) -> None:
        self._write({"type": "error", "kind": kind, "message": message})


class AgentFailure(Exception):
    """An operation failed in a way the client should show as a message.

    ``kind`` is a short machine-readable word such as ``not_found``,
    ``invalid_request``, ``no_pillow`` or ``internal``.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
