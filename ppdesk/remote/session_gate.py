"""A limit on how many fetches of one SSH connection hold a session channel at once.

OpenSSH rejects session channels beyond its MaxSessions setting (10 by
default) with "Connect failed", on a link that is otherwise fine. The
server does not announce the limit. The gate starts at DEFAULT_LIMIT, which
leaves room within OpenSSH's default for the persistent agent and an SFTP
client. When the server rejects a session anyway, the limit drops to the
number of channels the connection holds, and further fetches wait for a
free slot.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator, Optional

from ppdesk.cancel import Cancelled

if TYPE_CHECKING:
    from ppdesk.cancel import CancelToken

log = logging.getLogger(__name__)

# Concurrent fetches per connection before any rejection: OpenSSH's default
# MaxSessions of 10, less the persistent agent and one SFTP client. With many
# channel opens at once, paramiko 5.1 lost unrelated streams of the same
# connection after the server rejected some ("the stream ended early").
DEFAULT_LIMIT = 8
# Seconds between two checks of the cancel token while a fetch waits for a slot.
CANCEL_POLL = 0.2


class SessionLimitReached(Exception):
    """The server rejected a new session channel on a live connection.

    Not an SSHException or OSError on purpose, so that the mapping of link
    errors does not take it for a lost connection.
    """


class SessionGate:
    """A counter of the fetches that hold a session channel, which makes fetches beyond ``limit`` wait.

    Thread-safe. The limit outlives reconnects, because it belongs to the server.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._active = 0
        self.limit = DEFAULT_LIMIT

    @contextmanager
    def slot(self, cancel: Optional["CancelToken"] = None) -> Iterator[None]:
        """Hold one slot for the body, waiting while ``limit`` slots are taken. Raises Cancelled while waiting."""
        with self._condition:
            while self._active >= self.limit:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled()
                self._condition.wait(CANCEL_POLL)
            self._active += 1
        try:
            yield
        finally:
            with self._condition:
                self._active -= 1
                self._condition.notify_all()

    def lower(self, server: str, open_channels: int) -> bool:
        """Record a rejected session while ``open_channels`` channels of this connection serve fetches.

        Returns False when no channel is open, because then no fetch can free one.
        Otherwise the limit becomes ``open_channels``, and the caller waits for a slot
        and tries again.
        """
        with self._condition:
            if open_channels < 1:
                return False
            if open_channels < self.limit:
                log.info("%s rejected another SSH session; running at most %d fetches at once", server, open_channels)
                self.limit = open_channels
            return True
