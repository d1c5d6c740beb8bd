"""Status counts in the run header, status bar, banner and log: plural only where the word is a noun."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import List

import pytest

from ppdesk.gui.main_window import MainWindow
from ppdesk.remote.local import LocalTransport
from ppdesk.tools.base import Status, ToolResult
from ppdesk.tools.postprocess import count_statuses

# Bounds a hang of a tool run on the demo workspace; not a performance assertion.
WAIT_MS = 60_000
SOFIA = ("sofia_001_lr1e-4", "sofia_002_lr5e-5", "sofia_010_rank32")


def results_of(*statuses: Status) -> List[ToolResult]:
    return [ToolResult("dc", f"config_{index}", status, "") for index, status in enumerate(statuses)]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((), "nothing to do"),
        ((Status.OK,), "1 ok"),
        ((Status.OK, Status.OK), "2 ok"),
        ((Status.WARNING,), "1 warning"),
        ((Status.WARNING, Status.WARNING), "2 warnings"),
        ((Status.FAILED,), "1 failed"),
        ((Status.FAILED, Status.FAILED), "2 failed"),
        ((Status.SKIPPED, Status.SKIPPED), "2 skipped"),
        ((Status.CANCELLED,), "1 cancelled"),
        ((Status.CANCELLED, Status.CANCELLED, Status.CANCELLED), "3 cancelled"),
        ((Status.WARNING, Status.OK, Status.WARNING, Status.FAILED), "2 warnings, 1 ok, 1 failed"),
        ((Status.OK, Status.WARNING, Status.OK, Status.OK), "3 ok, 1 warning"),
    ],
)
def test_count_statuses_table(statuses, expected):
    assert count_statuses(results_of(*statuses)) == expected


def run_dc(qtbot, window: MainWindow) -> List[ToolResult]:
    with qtbot.waitSignal(window.runFinished, timeout=WAIT_MS) as blocker:
        assert window.run_tools(["dc"]) is not None, window.banner.text.text()
    return blocker.args[0]


def header_texts(window: MainWindow) -> List[str]:
    model = window.results.results_model
    return [model.index(row, 0).data() for row in range(model.rowCount()) if model.is_header(row)]


def change_local_copy(dest: Path, config: str) -> None:
    """Make the downloaded multidatabackend.json differ from the pod's, so the next download keeps it as a conflict."""
    path = dest / config / "config" / "multidatabackend.json"
    path.write_text(path.read_text() + "\n")


def test_counts_in_window_texts(qtbot, connected: MainWindow, tmp_path: Path):
    dest = tmp_path / "out"
    connected.set_destination(str(dest))
    assert connected.selection.select("sofia")
    first = run_dc(qtbot, connected)
    assert [result.status for result in first] == [Status.OK] * 3
    assert connected.statusBar().currentMessage() == "Download config finished: 3 ok"

    change_local_copy(dest, SOFIA[0])
    change_local_copy(dest, SOFIA[2])
    run_dc(qtbot, connected)

    assert connected.statusBar().currentMessage() == "Download config finished: 2 warnings, 1 ok"
    assert not connected.banner.isVisible()

    # A file where a config's folder should be fails that config only.
    shutil.rmtree(dest / SOFIA[1])
    (dest / SOFIA[1]).write_text("not a folder")
    run_dc(qtbot, connected)

    assert connected.statusBar().currentMessage() == "Download config finished: 2 warnings, 1 failed"
    assert connected.banner.text.text() == (
        "Download config: 1 tool failed (2 warnings, 1 failed); the red row shows why."
    )
    summaries = [text.rsplit("  \u00b7  ", 1)[-1] for text in header_texts(connected)]
    assert summaries == ["3 ok", "2 warnings, 1 ok", "2 warnings, 1 failed"]
    qtbot.waitUntil(lambda: "2 warnings, 1 failed" in connected.log_panel.toPlainText(), timeout=WAIT_MS)
    log_text = connected.log_panel.toPlainText()
    assert "Download config finished on 3 configs: 3 ok" in log_text
    assert "Download config finished on 3 configs: 2 warnings, 1 ok" in log_text
    assert "Download config finished on 3 configs: 2 warnings, 1 failed" in log_text


def test_scan_counts_singular(qtbot, window: MainWindow, demo_root: Path):
    config_root = demo_root / "SimpleTuner" / "config"
    for folder in config_root.iterdir():
        if folder.name != SOFIA[0]:
            shutil.rmtree(folder)

    with qtbot.waitSignal(window.scanFinished, timeout=WAIT_MS):
        window.add_transport(LocalTransport.for_root(demo_root), "One config")

    assert window.status_label.text() == "One config: 1 config in 1 family"
