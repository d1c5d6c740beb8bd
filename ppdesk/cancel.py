"""A cooperative cancel token shared by tools, transfers and transports."""

from __future__ import annotations

import threading


class Cancelled(Exception):
    """Raised by work that noticed its cancel token was set."""


class CancelToken:
    """A flag that a worker checks between chunks, files and steps.

    Any thread may call :meth:`cancel`; the worker calls :meth:`raise_if_cancelled`
    at points where stopping leaves resumable state.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return True early when cancelled."""
        return self._event.wait(seconds)
