"""Detecting a stalled SSH link that TCP has not noticed yet.

A pod that vanishes without closing the TCP connection leaves reads waiting
until the kernel gives up, which takes many minutes. The watchdog sends a
global request every ``interval`` seconds. OpenSSH replies with a failure
message, and any reply proves the link works. When no reply comes within
``timeout`` seconds the watchdog closes the paramiko transport, so every
blocked read ends and the transport reports ConnectionLost.
"""

from __future__ import annotations

import logging
import threading

import paramiko

log = logging.getLogger(__name__)

_PROBE_REQUEST = "keepalive@openssh.com"


class LinkWatchdog:
    """Closes ``transport`` when the server stops replying; runs on a daemon thread."""

    def __init__(self, transport: paramiko.Transport, label: str, interval: float, timeout: float) -> None:
        self._transport = transport
        self._label = label
        self._interval = interval
        self._timeout = timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"ssh-watchdog {label}", daemon=True)
        self.fired = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop probing; does not wait for a probe in flight."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if not self._transport.is_active():
                return
            if self._answered():
                continue
            if self._stop.is_set():
                return
            self.fired = True
            log.warning(
                "connection to %s stalled: no answer within %.0f s, closing it so that waiting operations fail",
                self._label,
                self._timeout,
            )
            self._transport.close()
            return

    def _answered(self) -> bool:
        replied = threading.Event()

        def probe() -> None:
            # global_request blocks until a reply or until the transport closes.
            self._transport.global_request(_PROBE_REQUEST, wait=True)
            replied.set()

        threading.Thread(target=probe, name=f"ssh-probe {self._label}", daemon=True).start()
        return replied.wait(self._timeout)
