"""The table of tool results that fills as tools finish.

Each run adds a header row (run number, start time, what ran on which
configs, and its status counts once it ends) and then its results, so
earlier runs stay visible above the newest one until the user clears them.
Failed rows have a red tint and an error icon, warnings an amber tint and a
warning icon, so they stand out in a long post-process run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Union

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyle, QTableView, QWidget

from ppdesk.tools.base import Status, ToolResult

COLUMNS = ("Tool", "Config", "Status", "Message", "Duration")
STATUS_COLUMN = 2
# Tool, Status and Duration: as wide as their widest cell.
FITTED_COLUMNS = (0, 2, 4)

_TINTS: Dict[Status, QColor] = {
    Status.FAILED: QColor(229, 57, 53, 60),
    Status.WARNING: QColor(255, 179, 0, 60),
    Status.CANCELLED: QColor(120, 120, 120, 40),
}

# Run header rows: a neutral grey that stays visible under the status tints.
_HEADER_TINT = QColor(128, 128, 128, 45)
# Separates the parts of a run header's text.
_HEADER_SEPARATOR = "  \u00b7  "

ModelIndex = QModelIndex | QPersistentModelIndex


def format_duration(seconds: float) -> str:
    """Format seconds as ``0.4 s``, ``12 s`` or ``3 min 05 s``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s"


@dataclass
class RunHeader:
    """The row above one run's results.

    ``title`` names what ran ("Validation grid", "Post-process"), ``target``
    the configs it ran on, and ``summary`` the status counts once the run
    has ended ("" while it runs).
    """

    number: int
    title: str
    target: str
    started: datetime
    summary: str = ""
    failed: int = 0

    def text(self) -> str:
        """Return the row's text: ``Run 2 · 14:03:12 · Validation grid on sofia · 2 ok, 1 failed``."""
        parts = [f"Run {self.number}", self.started.strftime("%H:%M:%S"), f"{self.title} on {self.target}"]
        parts.append(self.summary or "running...")
        return _HEADER_SEPARATOR.join(parts)


Row = Union[RunHeader, ToolResult]


class ResultsModel(QAbstractTableModel):
    """Run header rows, each followed by its :class:`ToolResult` rows, in the order they arrived."""

    def __init__(self, titles: Optional[Mapping[str, str]] = None, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._rows: List[Row] = []
        self._titles = dict(titles or {})
        self._icons: Dict[Status, QIcon] = {}

    def set_icons(self, icons: Dict[Status, QIcon]) -> None:
        self._icons = icons

    @property
    def results(self) -> List[ToolResult]:
        """Return the results of every run, oldest first, without the header rows."""
        return [row for row in self._rows if isinstance(row, ToolResult)]

    def run_results(self) -> List[ToolResult]:
        """Return the results below the newest run header (every result when there is no header)."""
        newest: List[ToolResult] = []
        for row in reversed(self._rows):
            if isinstance(row, RunHeader):
                break
            newest.append(row)
        return newest[::-1]

    def is_header(self, row: int) -> bool:
        return 0 <= row < len(self._rows) and isinstance(self._rows[row], RunHeader)

    def add_header(self, header: RunHeader) -> int:
        """Append ``header`` and return its row number."""
        return self._append(header)

    def update_header(self, header: RunHeader) -> None:
        """Repaint ``header``'s row after its summary changed."""
        row = next((index for index, item in enumerate(self._rows) if item is header), -1)
        if row >= 0:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def add(self, result: ToolResult) -> None:
        self._append(result)

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self.endResetModel()

    def _append(self, item: Row) -> int:
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(item)
        self.endInsertRows()
        return row

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if self.is_header(index.row()):
            # A header row cannot be selected or activated, so Enter and double clicks skip it.
            return Qt.ItemFlag.ItemIsEnabled
        return super().flags(index)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if isinstance(row, RunHeader):
            return self._header_data(row, index.column(), role)
        result = row
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(result, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(result)
        if role == Qt.ItemDataRole.BackgroundRole:
            tint = _TINTS.get(result.status)
            return QBrush(tint) if tint is not None else None
        if role == Qt.ItemDataRole.DecorationRole and column == STATUS_COLUMN:
            return self._icons.get(result.status)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 4:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return result
        return None

    def _header_data(self, header: RunHeader, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return header.text() if column == 0 else ""
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{header.title} on {header.target}, started {header.started:%Y-%m-%d %H:%M:%S}"
        if role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(_HEADER_TINT)
        if role == Qt.ItemDataRole.DecorationRole and column == 0 and header.failed:
            return self._icons.get(Status.FAILED)
        return None

    def _text(self, result: ToolResult, column: int) -> str:
        if column == 0:
            return self._titles.get(result.tool, result.tool)
        if column == 1:
            return result.config
        if column == 2:
            return result.status.value
        if column == 3:
            return result.message.splitlines()[0] if result.message else ""
        return format_duration(result.duration)

    def _tooltip(self, result: ToolResult) -> str:
        lines = [result.message] if result.message else []
        lines += result.local_files[:10]
        if len(result.local_files) > 10:
            lines.append(f"... and {len(result.local_files) - 10} more files")
        return "\n".join(lines)


class ResultsTable(QTableView):
    """A table view over a :class:`ResultsModel`.

    Call :meth:`begin_run` before a run's first result and :meth:`end_run`
    after its last. Emits ``resultActivated(ToolResult)`` on a double click
    or Enter on a result row.
    """

    resultActivated = Signal(object)

    def __init__(self, titles: Optional[Mapping[str, str]] = None, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.results_model = ResultsModel(titles, self)
        style = self.style()
        self.results_model.set_icons(
            {
                Status.OK: style.standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton),
                Status.WARNING: style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning),
                Status.FAILED: style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical),
                Status.CANCELLED: style.standardIcon(QStyle.StandardPixmap.SP_BrowserStop),
                Status.SKIPPED: style.standardIcon(QStyle.StandardPixmap.SP_ArrowRight),
            }
        )
        self.setModel(self.results_model)
        self.setObjectName("resultsTable")
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(False)
        self.setWordWrap(False)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.placeholder = "Results appear here as each tool finishes."
        header = self.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        for column in FITTED_COLUMNS:
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.setColumnWidth(1, 220)
        self.activated.connect(self._on_activated)
        self._fit_timer = QTimer(self)
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(0)
        self._fit_timer.timeout.connect(self._fit_columns)
        self._run_count = 0
        self._current_run: Optional[RunHeader] = None

    def begin_run(self, title: str, target: str, started: Optional[datetime] = None) -> RunHeader:
        """Add the header row of a new run below the earlier runs and scroll to it.

        Runs are numbered from 1, and the count goes on after
        :meth:`clear_results`, so each number names one run of this table.
        """
        self._run_count += 1
        header = RunHeader(self._run_count, title, target, started or datetime.now())
        row = self.results_model.add_header(header)
        self.setSpan(row, 0, 1, len(COLUMNS))
        self._current_run = header
        self.scrollToBottom()
        return header

    def end_run(self, summary: str, failed: int) -> None:
        """Show the current run's status counts in its header row."""
        header = self._current_run
        if header is None:
            return
        header.summary = summary
        header.failed = failed
        self.results_model.update_header(header)
        self._current_run = None

    def add_result(self, result: ToolResult) -> None:
        self.results_model.add(result)
        self._fit_timer.start()
        self.scrollToBottom()

    @Slot()
    def _fit_columns(self) -> None:
        # Qt does not resize ResizeToContents columns when rows arrive, and right
        # after an insert the new rows have no layout yet, so this runs one event later.
        for column in FITTED_COLUMNS:
            self.resizeColumnToContents(column)

    def clear_results(self) -> None:
        """Remove every run's rows; the run numbers keep counting."""
        self.results_model.clear()
        self.clearSpans()
        self._current_run = None

    def results(self) -> List[ToolResult]:
        return self.results_model.results

    def run_results(self) -> List[ToolResult]:
        """Return the newest run's results."""
        return self.results_model.run_results()

    def resizeEvent(self, event: QResizeEvent) -> None:
        # A banner that opens above the table after a run shrinks it, which
        # would hide the newest rows, so a view showing the end keeps doing so.
        bar = self.verticalScrollBar()
        showing_end = bar.value() >= bar.maximum()
        super().resizeEvent(event)
        if showing_end:
            self.scrollToBottom()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.results_model.rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            painter.end()

    @Slot(QModelIndex)
    def _on_activated(self, index: QModelIndex) -> None:
        result = self.results_model.data(index, Qt.ItemDataRole.UserRole)
        if result is not None:
            self.resultActivated.emit(result)
