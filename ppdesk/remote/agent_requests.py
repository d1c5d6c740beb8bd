"""Agent operations of SshTransport on the pod: the persistent agent and its fallbacks.

The first request of a connection starts the persistent agent, which also
chooses the pod's interpreter and runs the probe (agent_start.py).
Requests then go to that agent one at a time. A request whose agent fails
runs again in a process of its own on a new session channel, and after
MAX_PERSISTENT_FAILURES failures every request of that connection does.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Dict, Optional, Tuple

import paramiko

from .agent_client import build_request
from .agent_start import PodFacts, inspect_pod_over_sftp, start_pod_agent
from .errors import AgentError, ConnectionLost
from .persistent_agent import AgentChannelFailed, PersistentAgent, PersistentAgentClosed, PersistentAgentFailed
from .pod_agent import run_on_channel
from .ssh_session import LINK_ERRORS as _LINK_ERRORS

if TYPE_CHECKING:
    from ppdesk.cancel import CancelToken
    from ppdesk.core.layout import WorkspaceLayout

    from .bundle import Bundle
    from .bundle_cache import MissingBundle
    from .profiles import Profile
    from .transport import AgentEventCallback

log = logging.getLogger(__name__)

# Max persistent agents that may fail during a request on one connection.
# After that, every request runs in its own process until the next connection.
MAX_PERSISTENT_FAILURES = 3
# Operations that read their own requests from stdin, so the persistent agent rejects them.
_OWN_PROCESS_OPS = frozenset({"stream_files"})


class AgentRequests:
    """The agent methods of SshTransport, which mixes this class in.

    SshTransport's ``__init__`` creates the state used here, and closing
    a connection resets it: ``_agent`` (the command and probe data of the
    connection's interpreter), ``_persistent`` and ``_persistent_failures``.
    The methods also use SshTransport's lock, ``describe``,
    ``_live_transport``, ``_mark_lost`` and ``_sftp``.
    """

    profile: "Profile"
    layout: "WorkspaceLayout"
    _lock: threading.RLock
    _bundle_factory: Callable[[], "Bundle"]
    _transport: Optional[paramiko.Transport]
    _agent: Optional[Tuple[str, Dict[str, Any]]]
    _persistent: Optional[PersistentAgent]
    _persistent_failures: int

    if TYPE_CHECKING:

        def describe(self) -> str: ...

        def _live_transport(self) -> paramiko.Transport: ...

        def _mark_lost(self, transport: Optional[paramiko.Transport]) -> None: ...

        def _sftp(self) -> ContextManager[Tuple[paramiko.SFTPClient, paramiko.Transport]]: ...

    def run_agent(
        self,
        op: str,
        args: Optional[Dict[str, Any]] = None,
        on_event: Optional[AgentEventCallback] = None,
        cancel: Optional["CancelToken"] = None,
    ) -> Any:
        """Run one agent operation on the pod; see Transport.run_agent.

        The first call on a connection that needs the agent (this one, or a
        fetch) starts the persistent agent, which also runs the interpreter
        probe; see _agent_setup. Requests go to that agent one at
        a time. When it fails during a request, the request runs again in a
        process of its own, so an operation may run twice. Raises
        AgentError("no_python") when the pod has no Python 3.10 or newer.
        """
        command, _probe = self._agent_setup()
        transport = self._live_transport()
        persistent = None if op in _OWN_PROCESS_OPS else self._persistent_agent(transport, command)
        if persistent is not None:
            log.debug("running agent op %s in the persistent agent on %s", op, self.describe())
            try:
                return persistent.request(op, self.layout, args, on_event, cancel)
            except PersistentAgentClosed as exc:
                log.debug("running %s in its own process on %s: %s", op, self.describe(), exc)
            except PersistentAgentFailed as exc:
                self._drop_persistent(persistent)
                log.warning("the persistent agent on %s failed (%s); running %s in its own process", self.describe(), exc, op)
        return self._run_agent_process(transport, command, op, args, on_event, cancel)

    def _run_agent_process(
        self,
        transport: paramiko.Transport,
        command: str,
        op: str,
        args: Optional[Dict[str, Any]],
        on_event: Optional[AgentEventCallback],
        cancel: Optional["CancelToken"],
    ) -> Any:
        """Run one agent operation in a new process on its own session channel."""
        log.debug("running agent op %s on %s", op, self.describe())
        try:
            return run_on_channel(
                transport, command, build_request(op, self.layout, args), on_event, cancel, op
            )
        except AgentError:
            if not transport.is_active():
                self._mark_lost(transport)
                raise ConnectionLost(f"connection lost to {self.describe()} while running {op}") from None
            raise
        except (*_LINK_ERRORS, OSError) as exc:
            self._mark_lost(transport)
            raise ConnectionLost(f"connection lost to {self.describe()} while running {op}: {exc}") from exc

    def _persistent_agent(self, transport: paramiko.Transport, command: str) -> Optional[PersistentAgent]:
        """Return the usable persistent agent of ``transport``, starting one if needed, or None.

        None means one process per request: on a connection that was replaced,
        after a failed start, or after MAX_PERSISTENT_FAILURES failures.
        """
        with self._lock:
            if transport is not self._transport:
                return None
            if self._persistent is not None:
                if self._persistent.usable:
                    return self._persistent
                # Closed by a cancel: start a new one.
                self._persistent = None
            if self._persistent_failures >= MAX_PERSISTENT_FAILURES:
                return None
            label = f"persistent agent on {self.describe()}"
            try:
                self._persistent = PersistentAgent.start(transport, command, self.layout, label)
            except PersistentAgentFailed as exc:
                # A start that failed once fails again, so stop trying on this connection.
                self._persistent_failures = MAX_PERSISTENT_FAILURES
                log.warning("cannot start a persistent agent on %s (%s); each request runs in its own process", self.describe(), exc)
                return None
            log.debug("started a persistent agent on %s (pid %s)", self.describe(), self._persistent.pid)
            return self._persistent

    def _drop_persistent(self, persistent: PersistentAgent) -> None:
        """Close a persistent agent that failed during a request and count the failure."""
        persistent.close()
        with self._lock:
            if persistent is self._persistent:
                self._persistent = None
                self._persistent_failures += 1

    def agent_info(self) -> Dict[str, Any]:
        """Return the probe data of the pod's agent interpreter (python, pillow, executable)."""
        return dict(self._agent_setup()[1])

    def _agent_setup(self) -> Tuple[str, Dict[str, Any]]:
        """Start the connection's persistent agent unless it runs; return (agent command, probe data).

        The start also chooses the interpreter and runs the probe; see
        ppdesk/remote/agent_start.py. Raises AgentError ("no_python",
        "upload_failed", "agent_failed") or ConnectionLost.
        """
        with self._lock:
            transport = self._live_transport()
            if self._agent is not None:
                return self._agent
            bundle = self._bundle_factory()
            label = f"persistent agent on {self.describe()}"
            try:
                started = start_pod_agent(
                    transport,
                    self.layout,
                    self.profile.python,
                    bundle.filename,
                    lambda missing, venv: self._inspect_pod(transport, bundle, missing, venv),
                    label,
                )
            except AgentChannelFailed as exc:
                if not transport.is_active():
                    self._mark_lost(transport)
                    raise ConnectionLost(f"connection lost to {self.describe()} while starting the agent: {exc}") from exc
                raise AgentError(
                    "agent_failed",
                    f"cannot start the agent on {self.describe()}: {exc}; "
                    f"the server may allow fewer sessions per connection (OpenSSH MaxSessions)",
                ) from exc
            log.debug("started a persistent agent on %s (pid %s)", self.describe(), started.agent.pid)
            self._persistent = started.agent
            self._agent = (started.command, started.probe)
            return self._agent

    def _inspect_pod(
        self, transport: paramiko.Transport, bundle: "Bundle", missing: Optional["MissingBundle"], venv: Optional[str]
    ) -> PodFacts:
        """Upload ``bundle`` when ``missing`` is set and check whether ``venv`` exists, over SFTP.

        See agent_start.inspect_pod_over_sftp. Raises AgentError("upload_failed")
        when no cache folder on the pod can be written or SFTP fails, and
        ConnectionLost when the link fails.
        """
        try:
            with self._sftp() as (client, _):
                return inspect_pod_over_sftp(client, bundle, self.layout, missing, venv)
        except (*_LINK_ERRORS, OSError) as exc:
            if isinstance(exc, _LINK_ERRORS) or not transport.is_active():
                self._mark_lost(transport)
                raise ConnectionLost(f"connection lost to {self.describe()} while uploading the agent: {exc}") from exc
            raise AgentError(
                "upload_failed",
                f"cannot upload the agent to {self.describe()}: {exc}; check the pod's SFTP server",
            ) from exc
