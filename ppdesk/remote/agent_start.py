"""Starting a connection's persistent agent, which also chooses the pod's Python.

The order of interpreters is: the profile's interpreter alone when one is
set; else SimpleTuner's venv Python, then ``python3`` from the PATH. The
first start runs the persistent agent with that choice directly, and a
``/bin/sh`` test picks the venv or ``python3`` inside that one start. The
``probe`` request goes out with the serve line. So the usual case costs one
agent process and no SFTP: a channel open, an exec, and one exchange that
returns the ready line and the probe reply.

The bundle is not looked for first: the start script finds it in the
pod's cache folders (bundle_cache.py), its name carries its content hash,
and an upload puts it in place with a rename. SFTP is used only after a
failed start: to upload a missing bundle and start again, and to find out
whether the venv exists, so that the error names the interpreter that failed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

import paramiko

from .bundle_cache import MissingBundle, missing_bundle, start_command, upload_to_cache
from .errors import AgentError
from .persistent_agent import AgentChannelFailed, PersistentAgent, PersistentAgentFailed
from .pod_agent import path_exists, venv_python_path

if TYPE_CHECKING:
    from ppdesk.core.layout import WorkspaceLayout

    from .bundle import Bundle

log = logging.getLogger(__name__)

MIN_PYTHON = (3, 10)
# The interpreter looked up in the PATH when the profile sets none.
PATH_PYTHON = "python3"
# Exit statuses with which a POSIX shell reports a command it could not run.
SHELL_CANNOT_RUN = {126: "not executable", 127: "not found"}


@dataclass(frozen=True)
class PodFacts:
    """Facts that SFTP found on the pod after a failed start."""

    # True when the bundle was missing and has been uploaded now.
    uploaded: bool
    # Whether SimpleTuner's venv Python exists; False when it was not looked for.
    venv_exists: bool


# Called after a failed start of start_pod_agent with the report of a missing
# bundle, which it uploads (None: the bundle was found), and the venv path to
# look for (None: do not look).
InspectCache = Callable[[Optional[MissingBundle], Optional[str]], PodFacts]
# Returns the command that runs the bundle with (interpreter, venv Python or None).
_CommandFor = Callable[[str, Optional[str]], str]


@dataclass
class StartedAgent:
    """A started persistent agent, the shell command that started it, and its probe data.

    Other agent processes of the connection (stream channels, one process
    per request) run ``command`` too, so they get the same interpreter.
    """

    command: str
    probe: Dict[str, Any]
    agent: PersistentAgent


class _Unusable(Exception):
    """One start gave no usable agent; the message gives the reason.

    ``missing`` is set when the start script found no cached bundle.
    """

    def __init__(self, message: str, missing: Optional[MissingBundle] = None) -> None:
        super().__init__(message)
        self.missing = missing


def start_pod_agent(
    transport: paramiko.Transport,
    layout: "WorkspaceLayout",
    configured: Optional[str],
    bundle_name: str,
    inspect_pod: InspectCache,
    label: str,
) -> StartedAgent:
    """Start the persistent agent from the pod's bundle cache, with the first interpreter that runs it.

    ``bundle_name`` is the bundle's file name, looked for in the folders of
    bundle_cache.py. When no folder contains it, ``inspect_pod`` gets the
    report and uploads it, and the agent starts again.
    ``configured`` is the profile's interpreter or None. A start that
    fails or finds an older Python is closed before the next one. Raises
    AgentError("no_python") naming every interpreter tried and what
    happened, AgentError("upload_failed") from ``inspect_pod``,
    AgentChannelFailed when the server does not open or start a session
    channel, and whatever else ``inspect_pod`` raises.
    """

    def command_for(interpreter: str, venv: Optional[str]) -> str:
        return start_command(interpreter, venv, bundle_name, layout.cache_dir)

    return _start_in_order(transport, layout, configured, command_for, inspect_pod, label)


def inspect_pod_over_sftp(
    sftp: paramiko.SFTPClient,
    bundle: "Bundle",
    layout: "WorkspaceLayout",
    missing: Optional[MissingBundle],
    venv: Optional[str],
) -> PodFacts:
    """Upload ``bundle`` when ``missing`` is set and check whether ``venv`` exists, over SFTP.

    This is the work after a failed start of :func:`start_pod_agent`. The
    upload goes through bundle_cache.upload_to_cache, whose errors propagate.
    """
    uploaded = False
    if missing is not None:
        upload_to_cache(sftp, bundle, missing, layout)
        uploaded = True
    venv_exists = venv is not None and path_exists(sftp, venv)
    return PodFacts(uploaded=uploaded, venv_exists=venv_exists)


def _start_in_order(
    transport: paramiko.Transport,
    layout: "WorkspaceLayout",
    configured: Optional[str],
    command_for: _CommandFor,
    inspect_pod: InspectCache,
    label: str,
) -> StartedAgent:
    """Start the agent with the interpreters in order; see :func:`start_pod_agent`."""
    venv = venv_python_path(layout)
    command = command_for(configured, None) if configured else command_for(PATH_PYTHON, venv)
    try:
        return _start(transport, command, layout, label)
    except _Unusable as exc:
        failure = exc

    facts = inspect_pod(failure.missing, None if configured else venv)
    if facts.uploaded or failure.missing is not None:
        log.info("the agent bundle was missing on the pod and is uploaded now; starting the agent again")
        try:
            return _start(transport, command, layout, label)
        except _Unusable as exc:
            failure = exc
        if failure.missing is not None:
            raise AgentError("upload_failed", "the agent bundle is in none of the pod's cache folders even after its upload")

    if configured:
        outcomes = [f"{configured}: {failure}"]
    elif facts.venv_exists:
        # The venv ran and failed, so python3 from the PATH is next.
        outcomes = [f"{venv}: {failure}"]
        try:
            return _start(transport, command_for(PATH_PYTHON, None), layout, label)
        except _Unusable as exc:
            outcomes.append(f"{PATH_PYTHON}: {exc}")
    else:
        outcomes = [f"{venv}: not found", f"{PATH_PYTHON}: {failure}"]
    raise AgentError(
        "no_python",
        "no usable Python 3.10 or newer on the pod; tried: " + "; ".join(outcomes)
        + ". Set the profile's Python interpreter (--python PATH) to one that works",
    )


def _start(transport: paramiko.Transport, command: str, layout: "WorkspaceLayout", label: str) -> StartedAgent:
    """Start the persistent agent with ``command``; raise _Unusable when it fails or runs on Python older than MIN_PYTHON."""
    try:
        agent, probe = PersistentAgent.start_with_probe(transport, command, layout, label)
    except AgentChannelFailed:
        raise
    except PersistentAgentFailed as exc:
        missing = missing_bundle(exc.exit_status, exc.stderr)
        if missing is not None:
            raise _Unusable("the agent bundle is in none of the pod's cache folders", missing) from exc
        meaning = SHELL_CANNOT_RUN.get(exc.exit_status) if exc.exit_status is not None else None
        if meaning is not None:
            raise _Unusable(_one_line(f"{meaning} (exit status {exc.exit_status}); {exc.stderr}")) from exc
        raise _Unusable(_one_line(str(exc))) from exc
    version = str(probe.get("python", ""))
    if _version_tuple(version) < MIN_PYTHON:
        agent.close()
        raise _Unusable(f"Python {version or 'of unknown version'} is older than 3.10")
    log.info(
        "agent interpreter on the pod: %s (Python %s, Pillow %s)", probe.get("executable"), version, probe.get("pillow")
    )
    return StartedAgent(command=command, probe=probe, agent=agent)


def _version_tuple(version: str) -> Tuple[int, ...]:
    parts: List[int] = []
    for piece in version.split(".")[:2]:
        if not piece.isdigit():
            return ()
        parts.append(int(piece))
    return tuple(parts)


def _one_line(text: str) -> str:
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())
