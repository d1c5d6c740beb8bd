"""Workers: signals arrive on the GUI thread, errors read well, cancel stops work."""

from __future__ import annotations

import threading
from typing import Any, List, Tuple

from PySide6.QtCore import QObject, Slot

from ppdesk.gui.workers import Worker, WorkerPool
from ppdesk.remote.errors import ConnectionLost
from ppdesk.tools.base import ProgressEvent

WAIT_MS = 10_000
GUI_THREAD = threading.get_ident()


class Recorder(QObject):
    """Receives worker signals and notes the thread each slot ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: List[Tuple[str, Any, int]] = []

    @Slot(object)
    def on_progress(self, event: Any) -> None:
        self.calls.append(("progress", event, threading.get_ident()))

    @Slot(object)
    def on_partial(self, value: Any) -> None:
        self.calls.append(("partial", value, threading.get_ident()))

    @Slot(object)
    def on_result(self, value: Any) -> None:
        self.calls.append(("result", value, threading.get_ident()))

    @Slot(str)
    def on_error(self, message: str) -> None:
        self.calls.append(("error", message, threading.get_ident()))

    @Slot()
    def on_cancelled(self) -> None:
        self.calls.append(("cancelled", None, threading.get_ident()))

    def kinds(self) -> List[str]:
        return [kind for kind, _value, _thread in self.calls]


def connect(worker, recorder: Recorder) -> None:
    worker.signals.progress.connect(recorder.on_progress)
    worker.signals.partial.connect(recorder.on_partial)
    worker.signals.result.connect(recorder.on_result)
    worker.signals.error.connect(recorder.on_error)
    worker.signals.cancelled.connect(recorder.on_cancelled)


def test_signals_arrive_on_gui_thread(qtbot):
    pool = WorkerPool()
    recorder = Recorder()
    job_threads: List[int] = []

    def job(token, report):
        job_threads.append(threading.get_ident())
        report(ProgressEvent(tool="vg", config="a", message="one", done=1, total=2))
        worker.publish("row")
        report(ProgressEvent(tool="vg", config="a", message="two", done=2, total=2))
        return 42

    # Built before it starts, because the job refers to the worker.
    worker = Worker(job, name="test job")
    connect(worker, recorder)
    pool.submit(worker)
    with qtbot.waitSignal(worker.signals.finished, timeout=WAIT_MS):
        pass

    assert job_threads[0] != GUI_THREAD
    assert recorder.kinds() == ["progress", "partial", "progress", "result"]
    assert [value.message for kind, value, _ in recorder.calls if kind == "progress"] == ["one", "two"]
    assert recorder.calls[-1][1] == 42
    assert {thread for _kind, _value, thread in recorder.calls} == {GUI_THREAD}
    qtbot.waitUntil(lambda: pool.active == [], timeout=WAIT_MS)


def test_transport_error_is_readable(qtbot):
    pool = WorkerPool()
    recorder = Recorder()

    def job(token, report):
        raise ConnectionLost("connection to root@127.0.0.1:2222 lost; reconnect and retry")

    worker = pool.start(job)
    connect(worker, recorder)
    with qtbot.waitSignal(worker.signals.finished, timeout=WAIT_MS):
        pass

    assert recorder.kinds() == ["error"]
    assert recorder.calls[0][1] == "connection to root@127.0.0.1:2222 lost; reconnect and retry"
    assert recorder.calls[0][2] == GUI_THREAD
    assert isinstance(worker.exception, ConnectionLost)


def test_unexpected_error_has_no_traceback(qtbot):
    pool = WorkerPool()
    recorder = Recorder()

    def job(token, report):
        raise KeyError("grid")

    worker = pool.start(job)
    connect(worker, recorder)
    with qtbot.waitSignal(worker.signals.finished, timeout=WAIT_MS):
        pass

    message = recorder.calls[0][1]
    assert recorder.kinds() == ["error"]
    assert message.startswith("internal error (KeyError: 'grid')")
    assert "Traceback" not in message


def test_cancel_stops_waiting_job(qtbot):
    pool = WorkerPool()
    recorder = Recorder()
    running = threading.Event()

    def job(token, report):
        running.set()
        while not token.wait(0.05):
            pass
        token.raise_if_cancelled()

    worker = pool.start(job)
    connect(worker, recorder)
    qtbot.waitUntil(running.is_set, timeout=WAIT_MS)
    with qtbot.waitSignal(worker.signals.finished, timeout=WAIT_MS):
        worker.cancel()

    assert recorder.kinds() == ["cancelled"]
    assert pool.wait(WAIT_MS)
    assert pool.active_threads() == 0


def test_progress_is_throttled_but_keeps_last(qtbot):
    pool = WorkerPool()
    recorder = Recorder()

    def job(token, report):
        for done in range(1, 20001):
            report(ProgressEvent(tool="do", config="a", done=done, total=20000, unit="bytes"))
        return None

    worker = pool.start(job)
    connect(worker, recorder)
    with qtbot.waitSignal(worker.signals.finished, timeout=WAIT_MS):
        pass

    progress = [value for kind, value, _ in recorder.calls if kind == "progress"]
    assert 1 <= len(progress) < 20000
    assert progress[-1].done == 20000
    assert recorder.kinds()[-1] == "result"


def test_pool_forgets_finished_workers(qtbot):
    pool = WorkerPool()
    worker = pool.start(lambda token, report: "done")
    assert pool.active == [worker]
    with qtbot.waitSignal(worker.signals.finished, timeout=WAIT_MS):
        pass
    qtbot.waitUntil(lambda: pool.active == [], timeout=WAIT_MS)


def test_fast_job_signals_reach_late_slots(qtbot):
    pool = WorkerPool()
    recorder = Recorder()
    worker = pool.start(lambda token, report: "quick")
    # Nothing runs before the event loop does, so the slots below miss nothing.
    assert pool.active_threads() == 0
    connect(worker, recorder)
    with qtbot.waitSignal(worker.signals.finished, timeout=WAIT_MS):
        pass
    assert recorder.kinds() == ["result"]


def test_wait_drops_unstarted_workers(qtbot):
    pool = WorkerPool()
    ran = threading.Event()
    pool.start(lambda token, report: ran.set())
    assert pool.wait(WAIT_MS)
    assert pool.active == []

    # By the time a later worker has finished, the start of the dropped one was due.
    later = pool.start(lambda token, report: None)
    with qtbot.waitSignal(later.signals.finished, timeout=WAIT_MS):
        pass
    assert not ran.is_set()
