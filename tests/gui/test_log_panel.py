"""The log panel: coloured lines and following new lines only at the bottom."""

from __future__ import annotations

import logging

from ppdesk.gui.log_panel import LogPanel


def fill(panel: LogPanel, count: int, start: int = 0) -> None:
    for number in range(start, start + count):
        panel.append_line(f"line {number}", logging.INFO)


def shown_panel(qtbot) -> LogPanel:
    panel = LogPanel()
    qtbot.addWidget(panel)
    panel.resize(400, 120)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_log_follows_new_lines_at_bottom(qtbot):
    panel = shown_panel(qtbot)
    fill(panel, 50)
    bar = panel.verticalScrollBar()
    assert bar.maximum() > 0
    assert bar.value() == bar.maximum()

    fill(panel, 20, start=50)

    assert bar.value() == bar.maximum()
    assert panel.at_bottom()
    assert panel.document().lastBlock().text().endswith("line 69")


def test_log_keeps_position_scrolled_up(qtbot):
    panel = shown_panel(qtbot)
    fill(panel, 50)
    bar = panel.verticalScrollBar()
    bar.setValue(10)

    fill(panel, 20, start=50)

    assert bar.value() == 10
    assert bar.maximum() > 10
    assert not panel.at_bottom()


def test_log_follows_again_after_scroll_down(qtbot):
    panel = shown_panel(qtbot)
    fill(panel, 50)
    bar = panel.verticalScrollBar()
    bar.setValue(10)
    fill(panel, 5, start=50)

    bar.setValue(bar.maximum())
    fill(panel, 5, start=55)

    assert bar.value() == bar.maximum()


def test_log_stays_at_bottom_when_shrunk(qtbot):
    # The progress panel takes height from the log during a run.
    panel = shown_panel(qtbot)
    panel.resize(400, 300)
    fill(panel, 50)
    bar = panel.verticalScrollBar()
    before = bar.maximum()

    panel.resize(400, 100)

    assert bar.maximum() > before
    assert bar.value() == bar.maximum()
