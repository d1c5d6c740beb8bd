"""One agent process per SSH connection that serves every request, in serve mode.

Starting an agent costs a channel open, an exec and Python's start-up on
the pod, several round trips in all. :class:`PersistentAgent` pays that once
when the connection is set up and then sends each request as one line
(the wire format is in ppdesk/core/serve.py), so a request costs one round
trip plus its own work. :meth:`PersistentAgent.start_with_probe` sends the
``probe`` request together with the serve line, so the first start also
returns which Python runs the agent, without a process of its own.

Requests run one at a time; other callers wait for the lock. A cancel closes
the channel, which ends the process, and the owner starts a new one later.
A process that ends or sends something unexpected raises
:class:`PersistentAgentFailed`, and the owner then runs the request in a
process of its own.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

import paramiko

from ppdesk.cancel import Cancelled

from .agent_client import StderrTail, parse_line, pass_event
from .cancel_watch import close_on_cancel
from .errors import AgentError

if TYPE_CHECKING:
    from ppdesk.cancel import CancelToken
    from ppdesk.core.layout import WorkspaceLayout

    from .transport import AgentEventCallback

log = logging.getLogger(__name__)

# Seconds to wait for the server to open the channel and for the ready line.
START_TIMEOUT = 30.0
# Seconds to wait for the exit status and the last stderr bytes of a process
# that ended early. Both normally arrive within one round trip after its end.
EXIT_WAIT = 5.0
# Seconds between checks of the cancel token while waiting for another request to finish.
LOCK_POLL = 0.25
# The protocol version this client speaks; a ready line with another one is rejected.
PROTOCOL_VERSION = 1


class PersistentAgentFailed(Exception):
    """The persistent agent ended, could not start or broke the protocol; it is unusable now.

    When the process ended, ``exit_status`` is its exit status (None when
    the server reported none) and ``stderr`` describes its last stderr lines.
    """

    def __init__(self, message: str, exit_status: Optional[int] = None, stderr: str = "") -> None:
        super().__init__(message)
        self.exit_status = exit_status
        self.stderr = stderr


class AgentChannelFailed(PersistentAgentFailed):
    """The session channel could not be opened or its command not started.

    The server or the link is at fault here, not the interpreter, so trying
    another interpreter would not help.
    """


class PersistentAgentClosed(PersistentAgentFailed):
    """The client closed the persistent agent after a cancel, before this request was sent."""


class PersistentAgent:
    """A serve-mode agent process in one session channel of an SSH connection.

    ``request`` may be called from any thread and runs one request at a time.
    ``close`` ends the process and may be called at any time, more than once.
    """

    def __init__(self, channel: paramiko.Channel, label: str) -> None:
        self._channel = channel
        self._label = label
        self._stdout = channel.makefile("rb")
        self._stderr = StderrTail(channel.makefile_stderr("rb"), label)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._failed = False
        self.pid: Optional[int] = None

    @classmethod
    def start(cls, transport: paramiko.Transport, command: str, layout: "WorkspaceLayout", label: str) -> "PersistentAgent":
        """Run ``command`` in serve mode and wait for its ready line.

        Raises AgentChannelFailed when the channel cannot be opened or the
        server rejects the command, and PersistentAgentFailed when the
        process replies with anything but a ready line of this protocol
        version (an agent without serve mode replies with an error line),
        ends first, or sends no line within START_TIMEOUT seconds.
        """
        agent = cls._open(transport, label)
        try:
            agent._handshake(command, layout, probe_id=None)
        except BaseException:
            agent.close()
            raise
        return agent

    @classmethod
    def start_with_probe(
        cls, transport: paramiko.Transport, command: str, layout: "WorkspaceLayout", label: str
    ) -> Tuple["PersistentAgent", Dict[str, Any]]:
        """Start like :meth:`start` and return the agent with the data of its ``probe`` operation.

        The probe request goes out with the serve line, so it costs no round
        trip of its own. Raises what :meth:`start` raises, and
        PersistentAgentFailed when the probe fails.
        """
        agent = cls._open(transport, label)
        try:
            probe = agent._handshake(command, layout, probe_id=next(agent._ids))
        except BaseException:
            agent.close()
            raise
        assert probe is not None
        return agent, probe

    @classmethod
    def _open(cls, transport: paramiko.Transport, label: str) -> "PersistentAgent":
        try:
            channel = transport.open_session(timeout=START_TIMEOUT)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise AgentChannelFailed(f"cannot open a channel for the persistent agent: {exc}") from exc
        return cls(channel, label)

    def _handshake(self, command: str, layout: "WorkspaceLayout", probe_id: Optional[int]) -> Optional[Dict[str, Any]]:
        """Start ``command``, send the serve line (and the probe request when ``probe_id`` is set), read the replies.

        Returns the probe data, or None without ``probe_id``.
        """
        lines = [{"op": "serve", "layout": layout.to_dict(), "args": {}}]
        if probe_id is not None:
            lines.append({"id": probe_id, "op": "probe", "layout": layout.to_dict(), "args": {}})
        data = b"".join(json.dumps(line, ensure_ascii=True).encode("ascii") + b"\n" for line in lines)
        try:
            self._channel.exec_command(command)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise AgentChannelFailed(f"the server did not start the agent command: {exc or type(exc).__name__}") from exc
        self._stderr.start()
        self._channel.settimeout(START_TIMEOUT)
        try:
            self._send(data)
        except PersistentAgentFailed:
            # A command that fails at once (a missing interpreter) can close
            # the channel before the request goes out; its exit status explains more.
            raise self._ended_early("before it read its request") from None
        self._read_ready()
        probe = None if probe_id is None else _final_data_or_failure(self._read_reply(probe_id, None))
        self._channel.settimeout(None)
        return probe

    def _read_ready(self) -> None:
        try:
            line = self._stdout.readline()
        except socket.timeout as exc:
            raise PersistentAgentFailed(f"the persistent agent sent no ready line within {START_TIMEOUT:.0f} s") from exc
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise PersistentAgentFailed(f"the persistent agent did not start: {exc or type(exc).__name__}") from exc
        if not line:
            raise self._ended_early("before its ready line")
        try:
            message = parse_line(line, self._stderr)
        except AgentError as exc:
            raise PersistentAgentFailed(exc.message) from exc
        if message["type"] != "ready" or message.get("protocol") != PROTOCOL_VERSION:
            raise PersistentAgentFailed(f"the agent does not offer serve mode of protocol {PROTOCOL_VERSION}: {message}")
        pid = message.get("pid")
        self.pid = pid if isinstance(pid, int) else None

    def _ended_early(self, when: str) -> PersistentAgentFailed:
        """Describe a process that ended ``when``, with its exit status and last stderr lines."""
        status: Optional[int] = None
        # The event is also set when the channel closes without a status (a
        # process killed by a signal); paramiko then reports -1.
        if self._channel.status_event.wait(EXIT_WAIT) and self._channel.recv_exit_status() >= 0:
            status = self._channel.recv_exit_status()
        self._stderr.join(EXIT_WAIT)
        status_text = "unknown" if status is None else str(status)
        stderr = self._stderr.describe()
        return PersistentAgentFailed(f"the agent process ended {when} (exit status {status_text}); {stderr}", status, stderr)

    @property
    def usable(self) -> bool:
        """True until a failure, a cancel or a close was seen.

        A process that ended on its own since its last request still counts
        as usable; the next request finds out and raises PersistentAgentFailed.
        """
        return not self._failed

    def close(self) -> None:
        """End the process by closing its channel; a dead link is ignored, because it ended the process too."""
        self._failed = True
        try:
            self._channel.close()
        except (OSError, EOFError, paramiko.SSHException) as exc:
            log.debug("closing the channel of the %s failed: %s", self._label, exc)

    def request(
        self,
        op: str,
        layout: "WorkspaceLayout",
        args: Optional[Dict[str, Any]],
        on_event: Optional["AgentEventCallback"] = None,
        cancel: Optional["CancelToken"] = None,
    ) -> Any:
        """Run one operation and return its result data; blocks until it ends.

        Raises AgentError for the agent's error line, Cancelled after closing
        the channel when ``cancel`` is set first, and PersistentAgentFailed
        when the process is unusable. Any exception but AgentError leaves
        the process closed, because its reply may be half read.
        """
        self._acquire(cancel)
        try:
            if not self.usable:
                raise PersistentAgentClosed("the persistent agent was closed after a cancel")
            request_id = next(self._ids)
            line = json.dumps({"id": request_id, "op": op, "layout": layout.to_dict(), "args": args or {}}, ensure_ascii=True)
            try:
                with close_on_cancel(cancel, self.close, f"{op} in {self._label}"):
                    self._send(line.encode("ascii") + b"\n")
                    final = self._read_reply(request_id, on_event)
                if cancel is not None and cancel.cancelled and not self.usable:
                    # The cancel closed the channel, but the reply was already
                    # buffered. Report the cancel, as a one-shot process does.
                    raise Cancelled("cancelled by the user")
            except BaseException:
                self.close()
                raise
        finally:
            self._lock.release()
        return _final_data(final)

    def _acquire(self, cancel: Optional["CancelToken"]) -> None:
        while not self._lock.acquire(timeout=LOCK_POLL):
            if cancel is not None and cancel.cancelled:
                raise Cancelled("cancelled by the user")
        if cancel is not None and cancel.cancelled:
            self._lock.release()
            raise Cancelled("cancelled by the user")

    def _send(self, data: bytes) -> None:
        try:
            self._channel.sendall(data)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise PersistentAgentFailed(f"cannot send a request to the persistent agent: {exc or type(exc).__name__}") from exc

    def _read_reply(self, request_id: int, on_event: Optional["AgentEventCallback"]) -> Dict[str, Any]:
        """Read lines of request ``request_id`` up to its result or error line, which is returned."""
        while True:
            try:
                line = self._stdout.readline()
            except (OSError, EOFError, socket.timeout, paramiko.SSHException) as exc:
                raise PersistentAgentFailed(f"reading from the persistent agent failed: {exc or type(exc).__name__}") from exc
            if not line:
                raise self._ended_early(f"during request {request_id}")
            if not line.strip():
                continue
            try:
                message = parse_line(line, self._stderr)
            except AgentError as exc:
                raise PersistentAgentFailed(exc.message) from exc
            if message.get("id") != request_id:
                raise PersistentAgentFailed(
                    f"the persistent agent sent a line of request {message.get('id')!r} while request {request_id} was running"
                )
            if message["type"] in ("result", "error"):
                return message
            pass_event(message, on_event)


def _final_data_or_failure(final: Dict[str, Any]) -> Dict[str, Any]:
    """Return the data of a probe reply; an error line or data that is no object raises PersistentAgentFailed."""
    try:
        data = _final_data(final)
    except AgentError as exc:
        raise PersistentAgentFailed(f"the probe failed: {exc.message}") from exc
    if not isinstance(data, dict):
        raise PersistentAgentFailed(f"the probe returned {data!r} instead of a JSON object")
    return data


def _final_data(final: Dict[str, Any]) -> Any:
    if final["type"] == "error":
        kind = str(final.get("kind") or "internal")
        raise AgentError(kind, str(final.get("message") or f"the agent failed ({kind})"))
    return final.get("data")
