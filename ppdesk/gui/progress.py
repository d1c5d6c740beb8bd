"""The in-window progress panel for long runs.

The panel shows the current tool and config, one bar per file being
downloaded, an overall bar for the whole run, bytes, speed and time left,
and a Cancel button. It appears only when a run lasts longer than
:data:`SHOW_DELAY_MS`, so quick steps do not flash it, and :meth:`finish`
always hides it again.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass
from typing import Callable, Deque, Dict, Optional, Tuple

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ppdesk.tools.base import ProgressEvent
from ppdesk.units import format_bytes

SHOW_DELAY_MS = 400
MAX_FILE_BARS = 4
# The speed is averaged over this many seconds of samples.
SPEED_WINDOW_S = 5.0


# The names the panel shows for the phases of a step that count bytes.
PHASE_HASHING = "hashing on the pod"
PHASE_DOWNLOADING = "downloading"
PHASE_COPYING = "copying to the loras folder"
# The part of a step's overall progress that hashing on the pod fills before the download.
# NOTE: an estimate: the pod hashes from local disk, which is usually far faster than the
# download that follows, so a fixed fifth keeps the bar moving without promising a time.
HASHING_SHARE = 0.2


def byte_phase(event: ProgressEvent) -> Optional[str]:
    """Return the name of the byte-counting phase ``event`` reports, or None when it counts items.

    The agent names its phases in ``phase``: ``"hashing"`` on the pod before
    a download, ``"copying"`` while the LoRA mover copies weights. Byte
    lines without a phase come from downloads. A phase this panel does not
    know is shown by its own name.
    """
    if event.phase == "hashing":
        return PHASE_HASHING
    if event.unit != "bytes":
        return None
    if event.phase == "copying":
        return PHASE_COPYING
    return event.phase or PHASE_DOWNLOADING


def format_eta(seconds: float) -> str:
    """Format a time left: ``5 s``, ``2 min 10 s``, ``1 h 04 min``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class SpeedMeter:
    """Estimate a transfer speed in bytes per second from (time, done) samples."""

    def __init__(self, window: float = SPEED_WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._samples: Deque[Tuple[float, int]] = collections.deque()

    def reset(self) -> None:
        self._samples.clear()

    def add(self, done: int) -> None:
        now = self._clock()
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self._window:
            self._samples.popleft()

    def speed(self) -> Optional[float]:
        """Return bytes per second, or None before two samples 0.2 s apart exist."""
        if len(self._samples) < 2:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        if t1 - t0 < 0.2:
            return None
        return max(0.0, (d1 - d0) / (t1 - t0))


@dataclass
class RunPlan:
    """How many steps (tool runs on one config) a run has; 0 when unknown."""

    title: str
    steps: int = 0


class _FileRow:
    def __init__(self, grid: QGridLayout, row: int) -> None:
        self.label = QLabel()
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.bar.setMaximumHeight(16)
        grid.addWidget(self.label, row, 0)
        grid.addWidget(self.bar, row, 1)
        self.file: Optional[str] = None
        self.hide()

    def show_file(self, name: str, done: int, total: int) -> None:
        self.file = name
        short = name.rsplit("/", 1)[-1]
        self.label.setText(short)
        self.label.setToolTip(name)
        if total > 0:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * min(done, total) / total))
            self.bar.setFormat(f"%p%  of {format_bytes(total)}")
        else:
            self.bar.setRange(0, 0)
        self.label.show()
        self.bar.show()

    def hide(self) -> None:
        self.file = None
        self.label.hide()
        self.bar.hide()


class ProgressPanel(QFrame):
    """Progress of the running job, shown after a short delay.

    Call :meth:`begin` when a run starts, :meth:`update_progress` with each
    :class:`ProgressEvent`, :meth:`step_finished` after each tool result, and
    :meth:`finish` when the run ends however it ends. Emits
    ``cancelRequested()`` when the user presses Cancel. GUI thread only.
    """

    cancelRequested = Signal()

    def __init__(
        self,
        titles: Optional[Dict[str, str]] = None,
        parent: Optional[QWidget] = None,
        show_delay_ms: int = SHOW_DELAY_MS,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("progressPanel")
        self._titles = dict(titles or {})
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._plan = RunPlan("")
        self._steps_done = 0
        self._step_key: Optional[Tuple[str, str]] = None
        self._step_fraction = 0.0
        self._meter = SpeedMeter()
        self._phase: Optional[str] = None
        # The step fraction reached when the current phase began.
        self._phase_start = 0.0
        self._running = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(show_delay_ms)
        self._timer.timeout.connect(self._show_now)

        self.title_label = QLabel()
        bold = QFont(self.title_label.font())
        bold.setBold(True)
        self.title_label.setFont(bold)
        self.step_label = QLabel()
        self.step_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.message_label = QLabel()
        self.message_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.overall_bar = QProgressBar()
        self.overall_bar.setRange(0, 1000)
        self.overall_bar.setFormat("%p%")
        self.stats_label = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setShortcut(Qt.Key.Key_Escape)
        self.cancel_button.setToolTip("Stop the run (Esc); finished files stay, partial downloads resume next time")
        self.cancel_button.clicked.connect(self._on_cancel)

        files = QGridLayout()
        files.setColumnStretch(0, 2)
        files.setColumnStretch(1, 3)
        files.setHorizontalSpacing(10)
        files.setVerticalSpacing(2)
        self._file_rows = [_FileRow(files, row) for row in range(MAX_FILE_BARS)]

        # The overall bar shares the grid with the file bars, so all bars line up.
        files.addWidget(QLabel("Overall"), MAX_FILE_BARS, 0)
        files.addWidget(self.overall_bar, MAX_FILE_BARS, 1)

        header = QHBoxLayout()
        header.addWidget(self.title_label, 1)
        header.addWidget(self.step_label)
        footer = QHBoxLayout()
        footer.addWidget(self.stats_label, 1)
        footer.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(6)
        layout.addLayout(header)
        layout.addWidget(self.message_label)
        layout.addLayout(files)
        layout.addLayout(footer)
        self.hide()

    # -- public API -------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    def begin(self, title: str, steps: int = 0) -> None:
        """Start tracking a run of ``steps`` tool runs; the panel shows after the delay."""
        self._plan = RunPlan(title, steps)
        self._steps_done = 0
        self._step_key = None
        self._step_fraction = 0.0
        self._phase = None
        self._phase_start = 0.0
        self._meter.reset()
        self._running = True
        self.title_label.setText(title)
        self.message_label.setText("Starting...")
        self.stats_label.clear()
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        for row in self._file_rows:
            row.hide()
        self._update_overall()
        self._timer.start()

    def update_progress(self, event: ProgressEvent) -> None:
        """Show one progress report of the running step."""
        if not self._running:
            return
        key = (event.tool, event.config)
        if key != self._step_key:
            self._step_key = key
            self._phase = None
            self._phase_start = 0.0
            self._meter.reset()
            for row in self._file_rows:
                row.hide()
        tool = self._titles.get(event.tool, event.tool) or self._plan.title
        self.title_label.setText(f"{tool}: {event.config}" if event.config else tool)
        if event.message:
            self.message_label.setText(event.message)
        if event.total > 0:
            self._advance_step(event)
        if event.file:
            self._show_file(event.file, event.file_done, event.file_total)
        self._update_stats(event)
        self._update_overall()

    def step_finished(self) -> None:
        """Count one finished tool run toward the overall bar."""
        self._steps_done += 1
        self._step_fraction = 0.0
        self._phase_start = 0.0
        self._step_key = None
        for row in self._file_rows:
            row.hide()
        self._update_overall()

    def finish(self) -> None:
        """Stop the run and hide the panel, whatever the outcome."""
        self._running = False
        self._timer.stop()
        self.hide()

    # -- internals ----------------------------------------------------------

    @Slot()
    def _show_now(self) -> None:
        if self._running:
            self.show()

    @Slot()
    def _on_cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling...")
        self.message_label.setText("Cancelling: waiting for the current file or step to stop")
        self.cancelRequested.emit()

    def _show_file(self, name: str, done: int, total: int) -> None:
        finished = total > 0 and done >= total
        row = next((r for r in self._file_rows if r.file == name), None)
        if finished:
            if row is not None:
                row.hide()
            return
        if row is None:
            row = next((r for r in self._file_rows if r.file is None), None)
        if row is None:
            # More files run at once than there are bars: show the newest.
            row = self._file_rows[-1]
        row.show_file(name, done, total)

    def _advance_step(self, event: ProgressEvent) -> None:
        """Move the step's share of the overall bar; it never goes back within a step.

        Each phase of counted progress fills the step from where the previous
        phase left it: hashing up to :data:`HASHING_SHARE`, any other phase up
        to the end of the step.
        """
        phase = byte_phase(event)
        if phase != self._phase:
            # Each phase counts its own bytes, so their speeds must not mix.
            self._phase = phase
            self._phase_start = self._step_fraction
            self._meter.reset()
        end = HASHING_SHARE if phase == PHASE_HASHING else 1.0
        end = max(end, self._phase_start)
        done = min(1.0, event.done / event.total)
        self._step_fraction = max(self._step_fraction, self._phase_start + (end - self._phase_start) * done)

    def _update_stats(self, event: ProgressEvent) -> None:
        phase = byte_phase(event)
        if phase is None:
            self.stats_label.setText(f"{event.done} of {event.total}" if event.total else "")
            return
        self._meter.add(event.done)
        amount = f"{format_bytes(event.done)} of {format_bytes(event.total)}" if event.total else format_bytes(event.done)
        parts = [f"{phase[0].upper()}{phase[1:]}: {amount}"]
        speed = self._meter.speed()
        if speed is not None:
            parts.append(f"{format_bytes(speed)}/s")
            if speed > 0 and event.total > event.done:
                parts.append(f"{format_eta((event.total - event.done) / speed)} left")
        self.stats_label.setText("  \u00b7  ".join(parts))

    def _update_overall(self) -> None:
        steps = self._plan.steps
        if steps <= 0:
            self.overall_bar.setValue(int(1000 * self._step_fraction))
            self.step_label.clear()
            return
        fraction = (min(self._steps_done, steps) + self._step_fraction) / steps
        self.overall_bar.setValue(int(1000 * min(1.0, fraction)))
        current = min(self._steps_done + 1, steps)
        self.step_label.setText(f"step {current} of {steps}")
