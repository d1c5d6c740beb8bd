"""The results table: columns sized to their content, runs kept below header rows."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt

from ppdesk.gui.main_window import tool_titles
from ppdesk.gui.results_table import COLUMNS, FITTED_COLUMNS, ResultsTable
from ppdesk.tools.base import Status, ToolResult


def test_tool_column_fits_new_rows(qtbot):
    table = ResultsTable(tool_titles())
    qtbot.addWidget(table)
    table.resize(900, 300)
    table.show()
    qtbot.waitExposed(table)
    header = table.horizontalHeader()
    empty_width = header.sectionSize(0)

    table.add_result(ToolResult("do", "sofia_001_lr1e-4", Status.OK, "x" * 400, duration=12.5))
    table.add_result(ToolResult("lm", "sofia_001_lr1e-4", Status.WARNING, "1 conflict kept", duration=0.2))

    qtbot.waitUntil(lambda: header.sectionSize(0) > empty_width, timeout=5000)
    for column in FITTED_COLUMNS:
        assert header.sectionSize(column) >= table.sizeHintForColumn(column)


def add_run(table: ResultsTable, title: str, target: str, results) -> None:
    table.begin_run(title, target, started=datetime(2025, 3, 4, 14, 3, 12))
    for result in results:
        table.add_result(result)
    failed = sum(1 for result in results if result.status is Status.FAILED)
    table.end_run(f"{len(results)} done", failed)


def test_runs_append_below_headers(qtbot):
    table = ResultsTable(tool_titles())
    qtbot.addWidget(table)
    first = [ToolResult("vg", "sofia_001", Status.OK, "grid"), ToolResult("vg", "sofia_002", Status.FAILED, "no")]
    second = [ToolResult("dc", "max_001", Status.OK, "copied")]

    add_run(table, "Validation grid", "2 configs of sofia", first)
    add_run(table, "Download config", "max_001", second)

    model = table.results_model
    assert model.rowCount() == 5
    assert [model.is_header(row) for row in range(5)] == [True, False, False, True, False]
    assert model.index(0, 0).data() == "Run 1  \u00b7  14:03:12  \u00b7  Validation grid on 2 configs of sofia  \u00b7  2 done"
    assert model.index(3, 0).data() == "Run 2  \u00b7  14:03:12  \u00b7  Download config on max_001  \u00b7  1 done"
    assert [model.index(row, 1).data() for row in (1, 2, 4)] == ["sofia_001", "sofia_002", "max_001"]
    assert table.results() == first + second
    assert table.run_results() == second


def test_header_row_spans_and_is_inert(qtbot):
    table = ResultsTable(tool_titles())
    qtbot.addWidget(table)
    add_run(table, "Validation grid", "sofia_001", [ToolResult("vg", "sofia_001", Status.OK, "grid")])
    model = table.results_model

    assert table.columnSpan(0, 0) == len(COLUMNS)
    assert table.columnSpan(1, 0) == 1
    assert model.index(0, 0).data(Qt.ItemDataRole.UserRole) is None
    assert not model.flags(model.index(0, 0)) & Qt.ItemFlag.ItemIsSelectable
    assert model.flags(model.index(1, 0)) & Qt.ItemFlag.ItemIsSelectable


def test_header_of_failed_run_has_icon(qtbot):
    table = ResultsTable(tool_titles())
    qtbot.addWidget(table)
    add_run(table, "Validation grid", "sofia_001", [ToolResult("vg", "sofia_001", Status.OK, "grid")])
    add_run(table, "Validation grid", "sofia_002", [ToolResult("vg", "sofia_002", Status.FAILED, "no")])
    model = table.results_model

    assert model.index(0, 0).data(Qt.ItemDataRole.DecorationRole) is None
    assert model.index(2, 0).data(Qt.ItemDataRole.DecorationRole) is not None
    assert model.index(3, 0).data(Qt.ItemDataRole.BackgroundRole) is not None


def test_running_header_says_running(qtbot):
    table = ResultsTable(tool_titles())
    qtbot.addWidget(table)

    table.begin_run("Post-process", "3 configs of sofia", started=datetime(2025, 3, 4, 9, 0, 5))

    assert table.results_model.index(0, 0).data().endswith("Post-process on 3 configs of sofia  \u00b7  running...")


def test_clear_keeps_run_numbers(qtbot):
    table = ResultsTable(tool_titles())
    qtbot.addWidget(table)
    add_run(table, "Validation grid", "sofia_001", [ToolResult("vg", "sofia_001", Status.OK, "grid")])
    add_run(table, "Validation grid", "sofia_002", [ToolResult("vg", "sofia_002", Status.OK, "grid")])

    table.clear_results()

    assert table.results_model.rowCount() == 0
    assert table.results() == []
    assert table.columnSpan(0, 0) == 1
    add_run(table, "Dataset grid", "max_001", [ToolResult("dg", "max_001", Status.OK, "grid")])
    assert table.results_model.index(0, 0).data().startswith("Run 3  \u00b7  ")


def test_new_run_scrolled_into_view(qtbot):
    table = ResultsTable(tool_titles())
    qtbot.addWidget(table)
    table.resize(700, 200)
    table.show()
    qtbot.waitExposed(table)
    add_run(table, "Post-process", "all", [ToolResult("lm", f"c_{i}", Status.OK, "moved") for i in range(40)])

    add_run(table, "Validation grid", "c_7", [ToolResult("vg", "c_7", Status.OK, "grid")])

    last = table.results_model.index(table.results_model.rowCount() - 1, 1)
    viewport = table.viewport().rect()
    assert table.verticalScrollBar().value() > 0
    assert viewport.contains(table.visualRect(last))
    assert viewport.intersects(table.visualRect(table.results_model.index(41, 0)))


def test_shrunk_view_keeps_newest_rows(qtbot):
    table = ResultsTable(tool_titles())
    qtbot.addWidget(table)
    table.resize(700, 400)
    table.show()
    qtbot.waitExposed(table)
    add_run(table, "Post-process", "all", [ToolResult("lm", f"c_{i}", Status.OK, "moved") for i in range(40)])

    table.resize(700, 150)

    last = table.results_model.index(table.results_model.rowCount() - 1, 1)
    assert table.viewport().rect().contains(table.visualRect(last))


def test_scrolled_up_view_stays_put(qtbot):
    table = ResultsTable(tool_titles())
    qtbot.addWidget(table)
    table.resize(700, 400)
    table.show()
    qtbot.waitExposed(table)
    add_run(table, "Post-process", "all", [ToolResult("lm", f"c_{i}", Status.OK, "moved") for i in range(40)])
    table.scrollToTop()

    table.resize(700, 150)

    assert table.verticalScrollBar().value() == 0
