"""Ending a blocked read when the user cancels.

paramiko's SFTP reads block in the channel until a reply or the channel
timeout, and they cannot check a cancel token meanwhile. :func:`close_on_cancel`
watches the token on a daemon thread and closes the channel once it is set.
The blocked read then fails, and the failure is raised as Cancelled.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator, Optional

from ppdesk.cancel import Cancelled

if TYPE_CHECKING:
    from ppdesk.cancel import CancelToken

log = logging.getLogger(__name__)

# Seconds between two checks of the cancel token.
CANCEL_POLL = 0.25


@contextmanager
def close_on_cancel(cancel: Optional["CancelToken"], close: Callable[[], None], label: str) -> Iterator[None]:
    """Run the body, calling ``close`` if ``cancel`` is set before the body ends.

    Any exception the body raises after ``close`` ran becomes Cancelled,
    because it is the closed channel that made the read fail. ``close``
    runs on the watcher thread and must be safe to call at any time.
    """
    if cancel is None:
        yield
        return
    done = threading.Event()
    fired = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if cancel.wait(CANCEL_POLL):
                if not done.is_set():
                    fired.set()
                    log.info("cancel requested, closing the channel of %s", label)
                    close()
                return

    thread = threading.Thread(target=watch, name=f"cancel-watch {label}", daemon=True)
    thread.start()
    try:
        yield
    except Exception as exc:
        if fired.is_set():
            raise Cancelled("cancelled by the user") from exc
        raise
    finally:
        done.set()
