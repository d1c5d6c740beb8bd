"""The results table: columns sized to their content as rows arrive."""

from __future__ import annotations

from ppdesk.gui.main_window import tool_titles
from ppdesk.gui.results_table import FITTED_COLUMNS, ResultsTable
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
