"""The table of tool results that fills as tools finish.

Failed rows have a red tint and an error icon, warnings an amber tint and a
warning icon, so they stand out in a long post-process run.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPaintEvent
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

ModelIndex = QModelIndex | QPersistentModelIndex


def format_duration(seconds: float) -> str:
    """Format seconds as ``0.4 s``, ``12 s`` or ``3 min 05 s``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s"


class ResultsModel(QAbstractTableModel):
    """One row per :class:`ToolResult`, in the order they arrived."""

    def __init__(self, titles: Optional[Mapping[str, str]] = None, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._rows: List[ToolResult] = []
        self._titles = dict(titles or {})
        self._icons: Dict[Status, QIcon] = {}

    def set_icons(self, icons: Dict[Status, QIcon]) -> None:
        self._icons = icons

    @property
    def results(self) -> List[ToolResult]:
        return list(self._rows)

    def add(self, result: ToolResult) -> None:
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(result)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self.endResetModel()

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        result = self._rows[index.row()]
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

    Emits ``resultActivated(ToolResult)`` on a double click or Enter.
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
        self.results_model.clear()

    def results(self) -> List[ToolResult]:
        return self.results_model.results

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
