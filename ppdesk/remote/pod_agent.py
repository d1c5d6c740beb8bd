"""Running the core agent on a pod: bundle upload, interpreter choice, one process per request.

The command line sent to the pod contains only the interpreter path and the
bundle path, each quoted with ``shlex.quote``. Both come from the profile and
the layout; config names and every other argument travel in the JSON
request on stdin.
"""

from __future__ import annotations

import logging
import posixpath
import shlex
import stat
import uuid
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import paramiko

from .agent_client import AgentProcess, build_request, run_agent_streams
from .errors import AgentError

if TYPE_CHECKING:
    from ppdesk.cancel import CancelToken
    from ppdesk.core.layout import WorkspaceLayout

    from .bundle import Bundle
    from .transport import AgentEventCallback

log = logging.getLogger(__name__)

MIN_PYTHON = (3, 10)
# Seconds to wait for the server to open a session channel.
CHANNEL_OPEN_TIMEOUT = 30.0
_UPLOAD_BLOCK = 1024 * 1024


def upload_bundle(sftp: paramiko.SFTPClient, bundle: "Bundle", cache_dir: str) -> str:
    """Upload the bundle to ``<cache_dir>/<bundle.filename>`` unless it is there; return its remote path.

    A file of the right size is taken as present, because the name carries
    the content hash. Otherwise the bytes go to a temporary name first and
    are renamed into place, so an interrupted upload never leaves a partial
    bundle under the final name. SFTP errors propagate (OSError, SSHException).
    """
    target = posixpath.join(cache_dir, bundle.filename)
    try:
        if sftp.stat(target).st_size == len(bundle.data):
            log.debug("bundle %s is already on the pod", target)
            return target
    except FileNotFoundError:
        pass

    _makedirs(sftp, cache_dir)
    temp = f"{target}.{uuid.uuid4().hex}.tmp"
    with sftp.open(temp, "wb") as handle:
        handle.set_pipelined(True)
        for start in range(0, len(bundle.data), _UPLOAD_BLOCK):
            handle.write(bundle.data[start : start + _UPLOAD_BLOCK])
    try:
        sftp.posix_rename(temp, target)
    except OSError:
        sftp.remove(temp)
        raise
    log.info("uploaded %s (%d bytes)", target, len(bundle.data))
    return target


def _makedirs(sftp: paramiko.SFTPClient, folder: str) -> None:
    missing: List[str] = []
    current = folder
    while current not in ("", "/"):
        try:
            mode = sftp.stat(current).st_mode
        except FileNotFoundError:
            missing.append(current)
            current = posixpath.dirname(current)
            continue
        if mode is not None and not stat.S_ISDIR(mode):
            raise NotADirectoryError(f"cannot create the cache folder {folder}: {current} is a file on the pod")
        break
    for path in reversed(missing):
        sftp.mkdir(path, 0o755)


def agent_command(python: str, bundle_path: str) -> str:
    """Return the shell command that runs the bundle; both paths are quoted."""
    return f"{shlex.quote(python)} {shlex.quote(bundle_path)}"


def run_on_channel(
    transport: paramiko.Transport,
    command: str,
    request: bytes,
    on_event: Optional["AgentEventCallback"],
    cancel: Optional["CancelToken"],
    label: str,
) -> Any:
    """Run ``command`` in a new session channel as one agent process; see run_agent_streams.

    Raises SSHException when the channel cannot be opened; the caller maps it.
    """
    channel = transport.open_session(timeout=CHANNEL_OPEN_TIMEOUT)
    try:
        channel.exec_command(command)
        process = AgentProcess(
            stdin=channel.makefile_stdin("wb"),
            stdout=channel.makefile("rb"),
            stderr=channel.makefile_stderr("rb"),
            kill=channel.close,
            wait=lambda timeout: _exit_status(channel, timeout),
        )
        return run_agent_streams(process, request, on_event, cancel, label)
    finally:
        channel.close()


def _exit_status(channel: paramiko.Channel, timeout: float) -> Optional[int]:
    if channel.status_event.wait(timeout):
        return channel.recv_exit_status()
    return None


def interpreter_candidates(sftp: paramiko.SFTPClient, layout: "WorkspaceLayout", configured: Optional[str]) -> Tuple[List[str], List[str]]:
    """Return (interpreters to probe in order, notes on candidates skipped).

    A configured interpreter is the only candidate. Otherwise SimpleTuner's
    venv Python comes first when it exists, then ``python3`` from the PATH.
    """
    if configured:
        return [configured], []
    venv_python = posixpath.join(layout.simpletuner, ".venv", "bin", "python")
    try:
        sftp.stat(venv_python)
    except FileNotFoundError:
        return ["python3"], [f"{venv_python}: not found"]
    return [venv_python, "python3"], []


def choose_interpreter(
    transport: paramiko.Transport,
    candidates: List[str],
    notes: List[str],
    bundle_path: str,
    layout: "WorkspaceLayout",
) -> Tuple[str, Dict[str, Any]]:
    """Probe each candidate with the ``probe`` op; return the first usable one and its probe data.

    Raises AgentError("no_python") naming every interpreter tried and what
    happened, when none runs the agent on Python 3.10 or newer.
    """
    outcomes = list(notes)
    for python in candidates:
        try:
            data = run_on_channel(
                transport, agent_command(python, bundle_path), build_request("probe", layout, {}), None, None, f"probe {python}"
            )
        except AgentError as exc:
            outcomes.append(f"{python}: {_one_line(exc.message)}")
            continue
        version = str(data.get("python", "")) if isinstance(data, dict) else ""
        if _version_tuple(version) < MIN_PYTHON:
            outcomes.append(f"{python}: Python {version or 'of unknown version'} is older than 3.10")
            continue
        log.info("agent interpreter on the pod: %s (Python %s, Pillow %s)", python, version, data.get("pillow"))
        return python, data
    raise AgentError(
        "no_python",
        "no usable Python 3.10 or newer on the pod; tried: " + "; ".join(outcomes)
        + ". Set the profile's Python interpreter (--python PATH) to one that works",
    )


def _version_tuple(version: str) -> Tuple[int, ...]:
    parts: List[int] = []
    for piece in version.split(".")[:2]:
        if not piece.isdigit():
            return ()
        parts.append(int(piece))
    return tuple(parts)


def _one_line(text: str) -> str:
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())
