"""Background work for the GUI: a QRunnable per job, its signals, and a pool.

A job is a plain function ``job(token, report) -> value`` that runs on a pool
thread. ``token`` is the job's :class:`~ppdesk.cancel.CancelToken` and
``report`` accepts :class:`~ppdesk.tools.base.ProgressEvent` objects (or any
other progress payload). The worker turns each report, the return value and
any exception into signals of a :class:`WorkerSignals` object that lives in
the GUI thread, so slots connected to them run on the GUI thread (queued
connections). Widgets are never touched from the job itself.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from typing import Any, Callable, Dict, List, Optional

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot

from ppdesk.cancel import Cancelled, CancelToken
from ppdesk.remote.errors import TransportError

log = logging.getLogger(__name__)

ReportCallback = Callable[[Any], None]
Job = Callable[[CancelToken, ReportCallback], Any]

# Progress reports closer together than this are merged, so a download that
# reports every chunk does not flood the GUI thread's event queue.
PROGRESS_INTERVAL_S = 0.05


def describe_error(exc: BaseException) -> str:
    """Return a one-line message for the user; never a traceback."""
    if isinstance(exc, TransportError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, OSError):
        return f"local file error: {exc}"
    if isinstance(exc, ValueError):
        return str(exc)
    return f"internal error ({type(exc).__name__}: {exc}); the log has the details"


class WorkerSignals(QObject):
    """The signals of one :class:`Worker`; create it in the GUI thread.

    - ``started()`` when the job begins.
    - ``progress(object)`` with each report, throttled.
    - ``partial(object)`` with each value the job passes to ``worker.publish``.
    - ``result(object)`` with the return value.
    - ``error(str)`` with a readable message.
    - ``cancelled()`` when the job stopped on its cancel token.
    - ``finished()`` last, whatever the outcome.
    """

    started = Signal()
    progress = Signal(object)
    partial = Signal(object)
    result = Signal(object)
    error = Signal(str)
    cancelled = Signal()
    finished = Signal()


class _ProgressThrottle:
    """Forward at most one report per interval.

    A report of a new tool or config, and one that completes a step or a
    file, always passes, so no bar is left short of its end.
    """

    def __init__(self, emit: Callable[[Any], None], interval: float = PROGRESS_INTERVAL_S) -> None:
        self._emit = emit
        self._interval = interval
        self._last_time = 0.0
        self._last_key: Any = None
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        key = (getattr(event, "tool", None), getattr(event, "config", None))
        now = time.monotonic()
        with self._lock:
            due = now - self._last_time >= self._interval or key != self._last_key or _completes(event)
            if not due:
                return
            self._last_time = now
            self._last_key = key
        self._emit(event)


def _completes(event: Any) -> bool:
    total = getattr(event, "total", 0)
    file_total = getattr(event, "file_total", 0)
    step_done = bool(total) and getattr(event, "done", 0) >= total
    file_done = bool(file_total) and getattr(event, "file_done", 0) >= file_total
    return step_done or file_done


class Worker(QRunnable):
    """Run one job on a pool thread and report through :attr:`signals`.

    ``tag`` is free for the caller, typically a generation number used to
    drop stale results. :meth:`cancel` may be called from any thread; the job
    stops at its next cancel check.
    """

    def __init__(self, job: Job, name: str = "job", tag: Any = None) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.job = job
        self.name = name
        self.tag = tag
        self.token = CancelToken()
        self.signals = WorkerSignals()
        self.started_at: Optional[float] = None
        # The exception the job raised, set before ``error`` is emitted.
        self.exception: Optional[BaseException] = None
        self.done = threading.Event()
        self._throttle = _ProgressThrottle(self.signals.progress.emit)

    def cancel(self) -> None:
        self.token.cancel()

    def publish(self, value: Any) -> None:
        """Emit ``value`` through ``signals.partial`` unthrottled (any thread)."""
        self.signals.partial.emit(value)

    def run(self) -> None:  # runs on a pool thread
        self.started_at = time.monotonic()
        self.signals.started.emit()
        log.debug("worker %s started", self.name)
        try:
            value = self.job(self.token, self._throttle)
        except Cancelled:
            log.info("%s cancelled", self.name)
            self.signals.cancelled.emit()
        except (TransportError, OSError, ValueError) as exc:
            log.error("%s failed: %s", self.name, exc)
            self.exception = exc
            self.signals.error.emit(describe_error(exc))
        except Exception as exc:  # noqa: BLE001 - a job bug must still end the run cleanly
            log.exception("%s failed with an unexpected error", self.name)
            self.exception = exc
            self.signals.error.emit(describe_error(exc))
        else:
            self.signals.result.emit(value)
        finally:
            log.debug("worker %s finished after %.2f s", self.name, time.monotonic() - self.started_at)
            self.done.set()
            self.signals.finished.emit()


class WorkerPool(QObject):
    """A QThreadPool that keeps every running worker (and its signals) alive.

    Create and use it from the GUI thread. A worker stays referenced until
    its ``finished`` signal reaches the GUI thread, so its signal object is
    never deleted while a queued signal is on the way.
    """

    def __init__(self, max_threads: int = 4, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._active: Dict[int, Worker] = {}
        self._pending: List[Worker] = []

    def start(self, job: Job, name: str = "job", tag: Any = None) -> Worker:
        """Create a worker for ``job`` and start it when control returns to the event loop.

        A queued signal reaches only the slots connected when it is emitted,
        so the start waits for the event loop: slots connected to
        ``worker.signals`` right after this call see every signal.
        """
        return self.submit(Worker(job, name=name, tag=tag))

    def submit(self, worker: Worker) -> Worker:
        """Start a worker built by the caller, as :meth:`start` does."""
        self._active[id(worker)] = worker
        worker.signals.finished.connect(self._forget)
        self._pending.append(worker)
        if len(self._pending) == 1:
            QTimer.singleShot(0, self._start_pending)
        return worker

    @property
    def active(self) -> List[Worker]:
        """Workers whose ``finished`` signal has not reached the GUI thread yet."""
        return list(self._active.values())

    def cancel_all(self) -> None:
        for worker in list(self._active.values()):
            worker.cancel()

    def disconnect_all(self) -> None:
        """Disconnect every slot from running workers, e.g. before the window closes."""
        for worker in list(self._active.values()):
            signals = worker.signals
            for signal in (
                signals.started,
                signals.progress,
                signals.partial,
                signals.result,
                signals.error,
                signals.cancelled,
            ):
                with warnings.catch_warnings():
                    # PySide6 warns when a signal had no connection to remove.
                    warnings.simplefilter("ignore", RuntimeWarning)
                    try:
                        signal.disconnect()
                    except (RuntimeError, TypeError):
                        log.debug("no slot connected to a signal of %s", worker.name)

    def wait(self, timeout_ms: int) -> bool:
        """Block up to ``timeout_ms`` for all workers; return True when none runs.

        Workers that have not started yet are dropped without running.
        """
        for worker in self._pending:
            self._active.pop(id(worker), None)
        self._pending.clear()
        return self.pool.waitForDone(timeout_ms)

    def active_threads(self) -> int:
        return self.pool.activeThreadCount()

    @Slot()
    def _start_pending(self) -> None:
        pending, self._pending = self._pending, []
        for worker in pending:
            self.pool.start(worker)

    @Slot()
    def _forget(self) -> None:
        signals = self.sender()
        for key, worker in list(self._active.items()):
            if worker.signals is signals:
                del self._active[key]
