"""The client side of the agent protocol, shared by every transport.

One request is one process. The client writes the JSON request to its stdin
and closes it, then reads JSON lines from stdout. Writing the request and
draining stderr run on their own threads, so a process that prints
megabytes before reading its request, or to stderr, cannot block on a full
pipe.

:func:`run_agent_streams` works on any three byte streams plus a way to kill
and reap the process, so that LocalTransport (a subprocess) and an SSH
transport (a channel's stdin/stdout/stderr files) share the same reader.
:func:`run_agent_subprocess` is the subprocess wrapper around it.
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional

from ppdesk.cancel import Cancelled
from ppdesk.remote.errors import AgentError

if TYPE_CHECKING:
    from ppdesk.cancel import CancelToken
    from ppdesk.core.layout import WorkspaceLayout
    from ppdesk.remote.transport import AgentEventCallback

log = logging.getLogger(__name__)

# How many trailing stderr lines an error message quotes, and how many bytes
# of stderr are kept in memory to find them.
STDERR_TAIL_LINES = 20
STDERR_TAIL_BYTES = 64 * 1024
# How long to wait for the process to exit after its stdout closed, in seconds.
EXIT_TIMEOUT = 10.0
# How often a cancel token is checked while the agent runs, in seconds.
CANCEL_POLL = 0.1
_STDERR_CHUNK = 64 * 1024
_QUOTE_LIMIT = 200


def build_request(op: str, layout: "WorkspaceLayout", args: Optional[Dict[str, Any]]) -> bytes:
    """Encode one agent request as ASCII JSON.

    ``ensure_ascii`` escapes lone surrogates (file names that were not valid
    UTF-8, decoded with ``os.fsdecode``), so they survive the round trip.
    """
    request = {"op": op, "layout": layout.to_dict(), "args": args or {}}
    return json.dumps(request, ensure_ascii=True).encode("ascii")


@dataclass
class AgentProcess:
    """The handles of one running agent process.

    ``kill`` stops the process and must be safe to call more than once and
    after the process ended. ``wait`` takes a timeout in seconds and returns
    the exit status, or None when the process is still running (or the
    status is unknown).
    """

    stdin: IO[bytes]
    stdout: IO[bytes]
    stderr: IO[bytes]
    kill: Callable[[], None]
    wait: Callable[[float], Optional[int]]


class StderrTail:
    """Drains a byte stream on a daemon thread and keeps its last lines."""

    def __init__(self, stream: IO[bytes], label: str) -> None:
        self._stream = stream
        self._buffer = bytearray()
        self._total = 0
        self._thread = threading.Thread(target=self._drain, name=f"agent-stderr {label}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _drain(self) -> None:
        read = getattr(self._stream, "read1", self._stream.read)
        try:
            while True:
                chunk = read(_STDERR_CHUNK)
                if not chunk:
                    break
                self._total += len(chunk)
                self._buffer += chunk
                if len(self._buffer) > 2 * STDERR_TAIL_BYTES:
                    del self._buffer[: len(self._buffer) - STDERR_TAIL_BYTES]
        except (OSError, ValueError) as exc:
            # ValueError: the stream was closed under us after a kill.
            log.debug("stopped reading agent stderr: %s", exc)

    def lines(self) -> List[str]:
        """Return up to STDERR_TAIL_LINES last non-empty lines, decoded leniently."""
        text = bytes(self._buffer[-STDERR_TAIL_BYTES:]).decode("utf-8", errors="replace")
        lines = [line.rstrip() for line in text.splitlines() if line.strip()]
        return lines[-STDERR_TAIL_LINES:]

    def describe(self) -> str:
        lines = self.lines()
        if not lines:
            return "the agent wrote nothing to stderr"
        return "last stderr lines:\n" + "\n".join(lines)


class _CancelWatcher:
    """Kills the process as soon as a cancel token is set."""

    def __init__(self, cancel: Optional["CancelToken"], kill: Callable[[], None], label: str) -> None:
        self._cancel = cancel
        self._kill = kill
        self._done = threading.Event()
        self.fired = False
        self._thread = threading.Thread(target=self._watch, name=f"agent-cancel {label}", daemon=True)

    def start(self) -> None:
        if self._cancel is not None:
            self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    def _watch(self) -> None:
        assert self._cancel is not None
        while not self._done.is_set():
            if self._cancel.wait(CANCEL_POLL):
                self.fired = True
                log.info("cancel requested, killing the agent process")
                self._kill()
                return


def _write_request(stdin: IO[bytes], request: bytes, label: str) -> None:
    try:
        stdin.write(request)
        stdin.close()
    except (OSError, ValueError) as exc:
        # The process ended or was killed before reading its request, and
        # its stdout and stderr explain why.
        log.debug("could not write the request to %s: %s", label, exc)


def _quote(line: bytes) -> str:
    text = line.decode("utf-8", errors="replace").rstrip("\r\n")
    if len(text) > _QUOTE_LIMIT:
        text = text[:_QUOTE_LIMIT] + "..."
    return repr(text)


class ProtocolLineError(AgentError):
    """A stdout line that is not a protocol message; ``text`` describes it without the stderr tail."""

    def __init__(self, text: str, stderr: StderrTail) -> None:
        super().__init__("protocol", f"{text}; {stderr.describe()}")
        self.text = text


def parse_line(line: bytes, stderr: StderrTail) -> Dict[str, Any]:
    """Decode one stdout line into a protocol message with a ``type``.

    Raises AgentError("protocol") naming the line and the stderr tail when it
    is not a JSON object with a string ``type``.
    """
    try:
        message = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        message = None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolLineError(f"the agent printed a line that is not a protocol message: {_quote(line)}", stderr)
    return message


def _read_messages(
    stdout: IO[bytes], stderr: StderrTail, on_event: Optional["AgentEventCallback"]
) -> Optional[Dict[str, Any]]:
    """Read stdout to its end and return the final result or error message.

    Progress and warning messages go to ``on_event``; unknown types are
    logged and ignored. Returns None when stdout ended without a final line.
    """
    final: Optional[Dict[str, Any]] = None
    for line in iter(stdout.readline, b""):
        if not line.strip():
            continue
        message = parse_line(line, stderr)
        kind = message["type"]
        if final is not None:
            raise AgentError(
                "protocol",
                f"the agent printed {_quote(line)} after its {final['type']} line; {stderr.describe()}",
            )
        if kind in ("result", "error"):
            final = message
        else:
            pass_event(message, on_event)
    return final


def pass_event(message: Dict[str, Any], on_event: Optional["AgentEventCallback"]) -> None:
    """Log a warning message and pass a progress or warning message to ``on_event``.

    Messages of any other type are logged at debug level and dropped.
    """
    kind = message["type"]
    if kind not in ("progress", "warning"):
        log.debug("ignoring agent message of unknown type %r", kind)
        return
    if kind == "warning":
        log.warning("agent warning: %s", message.get("message", ""))
    if on_event is not None:
        on_event(message)


def _finish(final: Optional[Dict[str, Any]], exit_status: Optional[int], stderr: StderrTail) -> Any:
    if final is None:
        status = "still running" if exit_status is None else f"exit status {exit_status}"
        raise AgentError(
            "protocol",
            f"the agent process ended ({status}) without a result line; {stderr.describe()}",
        )
    if final["type"] == "error":
        kind = str(final.get("kind") or "internal")
        raise AgentError(kind, str(final.get("message") or f"the agent failed ({kind})"))
    return final.get("data")


def run_agent_streams(
    process: AgentProcess,
    request: bytes,
    on_event: Optional["AgentEventCallback"] = None,
    cancel: Optional["CancelToken"] = None,
    label: str = "agent",
) -> Any:
    """Send ``request`` to a started agent process and return its result data.

    Blocks the calling thread until the process ends. Raises AgentError with
    the agent's kind for an error line, AgentError("protocol") quoting the
    last stderr lines for a non-protocol line or a missing result, and
    Cancelled after killing the process when ``cancel`` is set before the
    result arrived. The process is killed on every exit path except success.
    """
    stderr = StderrTail(process.stderr, label)
    watcher = _CancelWatcher(cancel, process.kill, label)
    writer = threading.Thread(
        target=_write_request, args=(process.stdin, request, label), name=f"agent-stdin {label}", daemon=True
    )
    stderr.start()
    watcher.start()
    succeeded = False
    try:
        writer.start()
        try:
            final = _read_messages(process.stdout, stderr, on_event)
        except ProtocolLineError as exc:
            # The stderr lines that explain a stray stdout line may still be
            # in the pipe, so stop the process and read them before reporting.
            process.kill()
            process.wait(EXIT_TIMEOUT)
            stderr.join(EXIT_TIMEOUT)
            raise AgentError("protocol", f"{exc.text}; {stderr.describe()}") from None
        exit_status = process.wait(EXIT_TIMEOUT)
        stderr.join(EXIT_TIMEOUT)
        if watcher.fired or (cancel is not None and cancel.cancelled and final is None):
            raise Cancelled("cancelled by the user")
        data = _finish(final, exit_status, stderr)
        succeeded = True
        return data
    except (ValueError, OSError) as exc:
        # Reading a stream that a kill closed; a cancel explains it best.
        if watcher.fired:
            raise Cancelled("cancelled by the user") from exc
        raise
    finally:
        watcher.stop()
        if not succeeded:
            process.kill()
            process.wait(EXIT_TIMEOUT)
        stderr.join(EXIT_TIMEOUT)
        if writer.is_alive():
            writer.join(EXIT_TIMEOUT)


def _kill_quietly(proc: "subprocess.Popen[bytes]") -> None:
    try:
        proc.kill()
    except OSError as exc:  # already reaped
        log.debug("kill of pid %s failed: %s", proc.pid, exc)


def _wait_for(proc: "subprocess.Popen[bytes]", timeout: float) -> Optional[int]:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def run_agent_subprocess(
    argv: List[str],
    request: bytes,
    on_event: Optional["AgentEventCallback"] = None,
    cancel: Optional["CancelToken"] = None,
    cwd: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
) -> Any:
    """Start ``argv`` as an agent process, send ``request`` and return the result data.

    Raises AgentError("no_python") when the program cannot be started, and
    otherwise behaves as :func:`run_agent_streams`.
    """
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=dict(env) if env is not None else None,
        )
    except OSError as exc:
        raise AgentError("no_python", f"cannot start {argv[0]!r}: {exc}; check the Python interpreter setting") from exc

    label = f"pid {proc.pid}"
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    handles = AgentProcess(
        stdin=proc.stdin,
        stdout=proc.stdout,
        stderr=proc.stderr,
        kill=lambda: _kill_quietly(proc),
        wait=lambda timeout: _wait_for(proc, timeout),
    )
    try:
        return run_agent_streams(handles, request, on_event, cancel, label)
    finally:
        proc.stdout.close()
        proc.stderr.close()
