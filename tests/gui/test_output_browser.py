"""Output browser: rows from scan entries, drag and Shift selection, filter, download signal."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from ppdesk.gui.output_browser import COLUMNS, OutputBrowser, row_from_entry

NAMES = ["sofia_001", "sofia_002", "sofia_010", "anna_001", "examples/flux.peft-lora"]


@dataclass
class FakeConfigEntry:
    name: str
    family: str
    newest_checkpoint: int | None
    validation_samples: int
    output: str | None
    output_exists: bool = True


def entries() -> list[object]:
    objects: list[object] = [
        FakeConfigEntry(name, name.split("_")[0], 500 * (i + 1), 12 * i, f"/workspace/SimpleTuner/output/{name}")
        for i, name in enumerate(NAMES[:4])
    ]
    objects.append(
        {
            "name": NAMES[4], "family": "examples/flux.peft-lora", "newest_checkpoint": None,
            "validation_samples": 0, "output": "/workspace/SimpleTuner/output/flux", "output_exists": False,
            "size": 3 * 1024**3,
        }
    )
    return objects


@pytest.fixture
def browser(qtbot):
    widget = OutputBrowser()
    qtbot.addWidget(widget)
    widget.resize(900, 400)
    widget.set_entries(entries())
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def row_center(browser: OutputBrowser, row: int) -> QPoint:
    return browser.table.visualRect(browser.proxy.index(row, 0)).center()


def test_rows_show_entry_fields(browser):
    model = browser.proxy

    assert model.rowCount() == 5
    assert [model.index(row, 0).data() for row in range(5)] == NAMES
    assert [model.index(1, column).data() for column in range(6)] == [
        "sofia_002", "sofia", "1000", "12", "/workspace/SimpleTuner/output/sofia_002", "",
    ]
    assert model.index(4, 2).data() == "none"
    assert model.index(4, 5).data() == "3.0 GiB"
    assert "does not exist" in model.index(4, 4).data(Qt.ItemDataRole.ToolTipRole)


def test_drag_selects_row_range(qtbot, browser):
    viewport = browser.table.viewport()

    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, row_center(browser, 1))
    QTest.mouseMove(viewport, row_center(browser, 2))
    QTest.mouseMove(viewport, row_center(browser, 3))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, row_center(browser, 3))

    assert browser.selected_names() == NAMES[1:4]
    with qtbot.waitSignal(browser.download_requested) as blocker:
        QTest.mouseClick(browser.download_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [NAMES[1:4]]


def test_shift_click_selects_range(qtbot, browser):
    viewport = browser.table.viewport()

    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, row_center(browser, 0))
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, row_center(browser, 2))

    assert browser.selected_names() == NAMES[0:3]


def test_ctrl_click_adds_single_rows(browser):
    viewport = browser.table.viewport()

    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, row_center(browser, 0))
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, row_center(browser, 3))
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, row_center(browser, 4))

    assert browser.selected_names() == [NAMES[0], NAMES[3], NAMES[4]]


def test_filter_hides_other_rows(browser):
    QTest.keyClicks(browser.filter_edit, "SOFIA")

    assert browser.proxy.rowCount() == 3
    assert browser.summary_label.text() == "3 of 5 configs shown, 0 selected"


def test_filter_matches_output_path(browser):
    browser.filter_edit.setText("output/flux")

    assert [browser.proxy.index(row, 0).data() for row in range(browser.proxy.rowCount())] == [NAMES[4]]


def test_download_button_needs_selection(qtbot, browser):
    assert not browser.download_button.isEnabled()

    browser.select_names(["anna_001", "sofia_001"])

    assert browser.download_button.isEnabled()
    assert browser.download_button.text() == "Download selected (2)"
    with qtbot.waitSignal(browser.download_requested) as blocker:
        browser.download_button.click()
    assert blocker.args == [["sofia_001", "anna_001"]]


def test_sort_by_checkpoint_is_numeric(browser):
    browser.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)

    assert [browser.proxy.index(row, 2).data() for row in range(5)] == ["2000", "1500", "1000", "500", "none"]


def test_sort_by_name_is_natural(qtbot):
    widget = OutputBrowser()
    qtbot.addWidget(widget)
    widget.set_entries([{"name": n, "family": "run"} for n in ["run_10", "run_2", "run_1"]])

    widget.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)

    assert [widget.proxy.index(row, 0).data() for row in range(3)] == ["run_1", "run_2", "run_10"]


def test_entry_without_name_rejected():
    with pytest.raises(ValueError, match="no config name"):
        row_from_entry({"family": "sofia"})


def test_size_column_binary_units(browser):
    size_column = COLUMNS.index("Size")
    model = browser.proxy
    by_name = {model.index(row, 0).data(): model.index(row, size_column).data() for row in range(model.rowCount())}

    assert not browser.table.isColumnHidden(size_column)
    assert by_name["examples/flux.peft-lora"] == "3.0 GiB"
    # The other entries carry no size, so their cells stay empty.
    assert by_name["sofia_001"] == ""


@pytest.mark.parametrize("key, modifier", [(Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier),
                                           (Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)])
def test_browser_closes_by_key(browser, qtbot, key, modifier):
    browser.activateWindow()
    browser.table.setFocus()
    assert browser.isVisible()

    QTest.keyClick(browser.table, key, modifier)

    qtbot.waitUntil(lambda: not browser.isVisible(), timeout=5000)
    assert not browser.isVisible()
