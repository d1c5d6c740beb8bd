"""Entry point of the agent process that runs next to the workspace.

The client starts ``python ppdesk-core.pyz`` (on a pod) or ``python -m
ppdesk.core.agent`` (locally), writes one request on stdin and reads JSON
lines from stdout; see :mod:`ppdesk.core.protocol`. The ``serve`` request
keeps the process for many requests instead (:mod:`ppdesk.core.serve`).
Each operation is a function ``op(layout, args, emit) -> data`` in one of
the modules named in ``OPERATIONS``, imported only when called, so that a
pod without Pillow can still scan.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import platform
import sys
import traceback
from typing import IO, Any, Callable, Dict

from .layout import WorkspaceLayout
from .protocol import PROTOCOL_VERSION, AgentFailure, Emitter

log = logging.getLogger(__name__)

# The request that turns this process into a server of many requests; it is no operation.
SERVE_OP = "serve"

OperationFunc = Callable[[WorkspaceLayout, Dict[str, Any], Emitter], Any]

# Operation name -> "module:function", relative to this package.
OPERATIONS: Dict[str, str] = {
    "probe": ".agent:op_probe",
    "scan": ".scan:op_scan",
    "plan_download": ".files:op_plan_download",
    "hash_files": ".files:op_hash_files",
    "move_loras": ".loras:op_move_loras",
    "validation_grid": ".grids.validation:op_validation_grid",
    "dataset_grid": ".grids.dataset:op_dataset_grid",
    "list_samples": ".grid_sources:op_list_samples",
    "list_dataset_images": ".grid_sources:op_list_dataset_images",
    "stream_files": ".stream:op_stream_files",
}


def op_probe(layout: WorkspaceLayout, args: Dict[str, Any], emit: Emitter) -> Dict[str, Any]:
    """Report the interpreter, whether Pillow can be imported, and the agent's process id."""
    try:
        import PIL

        pillow = getattr(PIL, "__version__", "unknown")
    except ImportError:
        pillow = None
    return {
        "protocol": PROTOCOL_VERSION,
        "python": platform.python_version(),
        "executable": sys.executable,
        "pillow": pillow,
        "platform": platform.platform(),
        "pid": os.getpid(),
    }


def resolve_operation(name: str) -> OperationFunc:
    target = OPERATIONS.get(name)
    if target is None:
        raise AgentFailure("invalid_request", f"unknown operation {name!r}")
    module_name, func_name = target.split(":")
    try:
        module = importlib.import_module(module_name, __package__)
    except ImportError as exc:
        if exc.name == "PIL" or (exc.name or "").startswith("PIL."):
            raise AgentFailure(
                "no_pillow",
                f"operation {name!r} needs Pillow, which {sys.executable} cannot import",
            ) from exc
        raise
    return getattr(module, func_name)


def handle(request: Dict[str, Any], emit: Emitter) -> int:
    """Run one request; return the process exit status."""
    try:
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            raise AgentFailure("invalid_request", "request must be a JSON object with an 'op' string")
        layout = WorkspaceLayout.from_dict(request.get("layout") or {})
        args = request.get("args") or {}
        func = resolve_operation(request["op"])
        emit.result(func(layout, args, emit))
        return 0
    except AgentFailure as exc:
        emit.error(exc.kind, exc.message)
        return 1
    except Exception as exc:  # the agent must always end with a protocol line
        traceback.print_exc(file=sys.stderr)
        emit.error("internal", f"{type(exc).__name__}: {exc}")
        return 1


def _read_request(stdin: "IO[bytes]") -> bytes:
    """Read the request: its first line when that is a whole JSON document, else all of stdin.

    Clients send compact JSON on one line, so the process can keep reading
    stdin afterwards (``stream_files`` reads its range requests there).
    """
    first = stdin.readline()
    try:
        json.loads(first)
    except ValueError:
        return first + stdin.read()
    return first


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    emit = Emitter(sys.stdout)
    try:
        request = json.loads(_read_request(sys.stdin.buffer))
    except ValueError as exc:
        emit.error("invalid_request", f"request is not valid JSON: {exc}")
        return 1
    if isinstance(request, dict) and request.get("op") == SERVE_OP:
        from .serve import serve_requests

        return serve_requests(sys.stdin.buffer, sys.stdout)
    return handle(request, emit)


if __name__ == "__main__":
    sys.exit(main())
