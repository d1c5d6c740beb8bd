"""Starting a connection's persistent agent, which also chooses the pod's Python.

The order of interpreters is: the profile's interpreter alone when one is
set; else SimpleTuner's venv Python, then ``python3`` from the PATH. The
first start runs the persistent agent with that choice directly, and a
``/bin/sh`` test picks the venv or ``python3`` inside that one start. The
``probe`` request goes out with the serve line. So the usual case costs one
agent process and no SFTP: a channel open, an exec, and one exchange that
returns the ready line and the probe reply.

The bundle is not looked for first, because its name carries its content
hash and an upload puts it in place with a rename. SFTP is used only after a
failed start: to upload a missing bundle and start again, and to find out
whether the venv exists, so that the error names the interpreter that failed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

import paramiko

from .errors import AgentError
from .persistent_agent import AgentChannelFailed, PersistentAgent, PersistentAgentFailed
from .pod_agent import agent_command, venv_or_path_command, venv_python_path

if TYPE_CHECKING:
    from ppdesk.core.layout import WorkspaceLayout

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


# Called after a failed start with the venv path to look for (None: do not
# look); uploads the bundle when it is missing.
InspectPod = Callable[[Optional[str]], PodFacts]


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
    """One start gave no usable agent; the message gives the reason."""


def start_agent(
    transport: paramiko.Transport,
    layout: "WorkspaceLayout",
    configured: Optional[str],
    remote_bundle: str,
    inspect_pod: InspectPod,
    label: str,
) -> StartedAgent:
    """Start the persistent agent with the first interpreter that runs it on Python 3.10 or newer.

    ``configured`` is the profile's interpreter or None. A start that fails
    or finds an older Python is closed before the next one. Raises
    AgentError("no_python") naming every interpreter tried and what
    happened, AgentChannelFailed when the server does not open or start a
    session channel, and whatever ``inspect_pod`` raises.
    """
    venv = venv_python_path(layout)
    if configured:
        command = agent_command(configured, remote_bundle)
    else:
        command = venv_or_path_command(venv, PATH_PYTHON, remote_bundle)
    try:
        return _start(transport, command, layout, label)
    except _Unusable as exc:
        failure = exc

    facts = inspect_pod(None if configured else venv)
    if facts.uploaded:
        log.info("the agent bundle was missing on the pod and is uploaded now; starting the agent again")
        try:
            return _start(transport, command, layout, label)
        except _Unusable as exc:
            failure = exc

    if configured:
        outcomes = [f"{configured}: {failure}"]
    elif facts.venv_exists:
        # The venv ran and failed, so python3 from the PATH is next.
        outcomes = [f"{venv}: {failure}"]
        try:
            return _start(transport, agent_command(PATH_PYTHON, remote_bundle), layout, label)
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
