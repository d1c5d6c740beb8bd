"""OutputBrowser: a filterable table of the pod's configs and their outputs, for choosing downloads."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Iterable

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QColor, QFont, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ppdesk.units import format_bytes

log = logging.getLogger(__name__)

COLUMNS = ("Config", "Family", "Newest checkpoint", "Validation samples", "Output", "Size")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class OutputRow:
    """One config as the browser shows it; ``size`` is the output's size in bytes when known."""

    name: str
    family: str
    newest_checkpoint: int | None
    validation_samples: int
    output: str | None
    output_exists: bool
    size: int | None


def row_from_entry(entry: Any) -> OutputRow:
    """Build an OutputRow from a ConfigEntry-like object or a ConfigData dict.

    Reads ``name``, ``family``, ``newest_checkpoint``, ``validation_samples``,
    ``output``, and optionally ``output_exists`` and ``size`` (or
    ``output_size``). Raises ValueError when ``name`` is missing or empty.
    """
    name = _field(entry, "name")
    if not name:
        raise ValueError(f"output browser entry has no config name: {entry!r}")
    output = _field(entry, "output")
    size = _field(entry, "size")
    if size is None:
        size = _field(entry, "output_size")
    exists = _field(entry, "output_exists")
    return OutputRow(
        name=str(name),
        family=str(_field(entry, "family") or ""),
        newest_checkpoint=_as_int(_field(entry, "newest_checkpoint")),
        validation_samples=_as_int(_field(entry, "validation_samples")) or 0,
        output=str(output) if output else None,
        output_exists=bool(output) if exists is None else bool(exists),
        size=_as_int(size),
    )


def natural_key(text: str) -> tuple[Any, ...]:
    """Return a sort key that orders digit runs by value (``run_2`` before ``run_10``)."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text))


class OutputTableModel(QAbstractTableModel):
    """A read-only table of OutputRow, one config per row, columns as in COLUMNS."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[OutputRow] = []

    def set_rows(self, rows: list[OutputRow]) -> None:
        """Replace every row."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_at(self, row: int) -> OutputRow:
        """Return the OutputRow at model row ``row``."""
        return self._rows[row]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == SORT_ROLE:
            return self._sort_key(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (2, 3, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if column == 4 and not row.output_exists:
            return self._missing_output_style(role)
        return None

    def _display(self, row: OutputRow, column: int) -> str:
        if column == 0:
            return row.name
        if column == 1:
            return row.family
        if column == 2:
            return "none" if row.newest_checkpoint is None else str(row.newest_checkpoint)
        if column == 3:
            return str(row.validation_samples)
        if column == 4:
            return row.output or "not set"
        return format_bytes(row.size, unknown_text="")

    def _sort_key(self, row: OutputRow, column: int) -> Any:
        # Strings of natural keys keep QSortFilterProxyModel's comparison simple
        # while ordering "run_2" before "run_10".
        if column in (0, 1, 4):
            text = [row.name, row.family, row.output or ""][(0, 1, 4).index(column)]
            return "".join(f"{part:012d}" if isinstance(part, int) else part for part in natural_key(text))
        number = {2: row.newest_checkpoint, 3: row.validation_samples, 5: row.size}[column]
        return -1 if number is None else number

    def _tooltip(self, row: OutputRow, column: int) -> str | None:
        if column == 4 and row.output and not row.output_exists:
            return f"The output folder {row.output} does not exist on the pod."
        if column in (0, 4):
            return self._display(row, column)
        return None

    def _missing_output_style(self, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor(140, 140, 140)
        if role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setItalic(True)
            return font
        return None


class OutputBrowser(QWidget):
    """Table of the scanned configs' outputs with a filter box and a "Download selected" button.

    Rows are selected with clicks, Shift and Ctrl clicks, and by dragging over
    several rows. Signals: ``download_requested(list[str])``, the selected
    config names in table order.
    """

    download_requested = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = OutputTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter by config, family or output path")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._on_filter_changed)
        self.table = self._make_table()
        self.summary_label = QLabel(self)
        self.download_button = QPushButton("Download selected", self)
        self.download_button.clicked.connect(self._on_download_clicked)

        self._lay_out()
        self._update_summary()
        self._add_close_action()

    def set_entries(self, entries: Iterable[Any]) -> None:
        """Show ``entries`` (ConfigEntry-like objects or ConfigData dicts); clears the selection."""
        rows = [row_from_entry(entry) for entry in entries]
        self.model.set_rows(rows)
        # A scan reports no output sizes, so an all-empty Size column is hidden.
        self.table.setColumnHidden(COLUMNS.index("Size"), all(row.size is None for row in rows))
        self.table.resizeColumnsToContents()
        self._update_summary()

    def selected_names(self) -> list[str]:
        """Return the selected config names in the table's current order."""
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return [self.model.row_at(self.proxy.mapToSource(self.proxy.index(row, 0)).row()).name for row in rows]

    def select_names(self, names: Iterable[str]) -> None:
        """Select exactly the visible rows whose config name is in ``names``."""
        requested = set(names)
        selection = QItemSelection()
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if self.model.row_at(self.proxy.mapToSource(index).row()).name in requested:
                selection.select(index, self.proxy.index(row, self.proxy.columnCount() - 1))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().select(selection, flags)

    def _add_close_action(self) -> None:
        # The browser is a top-level window, so it closes with the keys the viewer uses.
        close = QAction("Close", self)
        # Some platforms (offscreen among them) bind no key to StandardKey.Close, so Ctrl+W is added.
        keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Close)
        for extra in (QKeySequence("Ctrl+W"), QKeySequence(Qt.Key.Key_Escape)):
            if extra not in keys:
                keys.append(extra)
        close.setShortcuts(keys)
        close.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        close.triggered.connect(self.close)
        self.addAction(close)
        self.close_action = close

    def _make_table(self) -> QTableView:
        table = QTableView(self)
        table.setModel(self.proxy)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # With drags disabled, pressing on a row and moving selects the rows passed over.
        table.setDragEnabled(False)
        table.setSortingEnabled(True)
        table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        # Paths differ at their ends, so elide in the middle.
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setStretchLastSection(False)
        table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        table.selectionModel().selectionChanged.connect(self._update_summary)
        return table

    def _lay_out(self) -> None:
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary_label, 1)
        bottom.addWidget(self.download_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)

    @Slot(str)
    def _on_filter_changed(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self._update_summary()

    @Slot()
    def _on_download_clicked(self) -> None:
        names = self.selected_names()
        if names:
            log.info("download requested for %d config(s)", len(names))
            self.download_requested.emit(names)

    @Slot()
    def _update_summary(self) -> None:
        selected = len(self.table.selectionModel().selectedRows())
        visible = self.proxy.rowCount()
        total = self.model.rowCount()
        text = f"{total} configs" if visible == total else f"{visible} of {total} configs shown"
        self.summary_label.setText(f"{text}, {selected} selected")
        self.download_button.setEnabled(selected > 0)
        self.download_button.setText(f"Download selected ({selected})" if selected else "Download selected")


def _field(entry: Any, key: str) -> Any:
    if isinstance(entry, dict):
        return entry.get(key)
    return getattr(entry, key, None)


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
