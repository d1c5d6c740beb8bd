"""The interface every tool and the download engine use to reach a workspace."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Dict, Optional

if TYPE_CHECKING:
    from ppdesk.cancel import CancelToken
    from ppdesk.core.layout import WorkspaceLayout

# Called with each agent line of type progress or warning, as a dict.
AgentEventCallback = Callable[[Dict[str, Any]], None]
# Called with the number of bytes just written, for progress bars.
BytesCallback = Callable[[int], None]


@dataclass(frozen=True)
class RemoteStat:
    """Size in bytes and modification time in seconds since the epoch."""

    size: int
    mtime: float


class Transport(abc.ABC):
    """A connection to one workspace: a pod over SSH, or a local folder.

    Transports open lazily on first use, ``close`` is idempotent, and they
    work as context managers. Every method may be called from a worker
    thread; none may be called from the GUI thread. Methods that accept a
    cancel token raise :class:`ppdesk.cancel.Cancelled` when it is set.
    """

    layout: "WorkspaceLayout"

    @abc.abstractmethod
    def describe(self) -> str:
        """Return a short label for logs and the status bar, e.g. ``root@host:22101``."""

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the connection now instead of on first use."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection; calling it twice is harmless."""

    @abc.abstractmethod
    def run_agent(
        self,
        op: str,
        args: Optional[Dict[str, Any]] = None,
        on_event: Optional[AgentEventCallback] = None,
        cancel: Optional["CancelToken"] = None,
    ) -> Any:
        """Run one agent operation next to the workspace and return its result data.

        Raises AgentError when the agent ends with an error line, and
        ConnectionLost when the link dies. Arguments travel as JSON on the
        agent's stdin, never on a command line.
        """

    @abc.abstractmethod
    def stat(self, path: str) -> RemoteStat:
        """Return size and mtime of a remote file; raise RemoteFileError if missing."""

    @abc.abstractmethod
    def fetch(
        self,
        path: str,
        dest: BinaryIO,
        offset: int = 0,
        length: Optional[int] = None,
        on_bytes: Optional[BytesCallback] = None,
        cancel: Optional["CancelToken"] = None,
    ) -> int:
        """Copy remote bytes ``[offset, offset+length)`` into ``dest``; return the count.

        ``dest`` is already positioned; ``length`` None means to the end of the
        file. Raises ConnectionLost on a dead link (the caller resumes from
        what was written) and RemoteFileError when the file cannot be read.
        """

    def __enter__(self) -> "Transport":
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
