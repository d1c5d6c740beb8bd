"""Errors raised by transports; each message is meant for the user."""

from __future__ import annotations


class TransportError(Exception):
    """Base class: something went wrong reaching or using the pod."""


class ConnectionFailed(TransportError):
    """The connection could not be opened (refused, timed out, auth failed)."""


class ConnectionLost(TransportError):
    """An open connection died or stalled; the operation may be retried."""


class HostKeyError(ConnectionFailed):
    """The server's host key is unknown and was not accepted, or it changed."""


class AgentError(TransportError):
    """The agent on the pod reported an error line, or could not be run.

    ``kind`` is the agent's error kind (``not_found``, ``no_pillow``,
    ``no_python``, ``internal``...).
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class RemoteFileError(TransportError):
    """A remote file could not be read (missing, no permission, changed)."""
