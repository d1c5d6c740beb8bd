"""The destination check before a run: one clear error for a file or an unwritable folder, a missing folder created."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import pytest
from helpers.key_files import run_without_override

from ppdesk.gui.destination import DestinationError, prepare_destination
from ppdesk.gui.main_window import MainWindow
from ppdesk.tools.base import Status, ToolResult

# Bounds a hang of a tool run on the demo workspace; not a performance assertion.
WAIT_MS = 60_000
CONFIG = "sofia_001_lr1e-4"


def run_dc(qtbot, window: MainWindow, dest: Path) -> List[ToolResult]:
    window.set_destination(str(dest))
    assert window.selection.select("sofia", CONFIG)
    with qtbot.waitSignal(window.runFinished, timeout=WAIT_MS) as blocker:
        assert window.run_tools(["dc"]) is not None, window.banner.text.text()
    return blocker.args[0]


def last_header(window: MainWindow) -> str:
    model = window.results.results_model
    headers = [model.index(row, 0).data() for row in range(model.rowCount()) if model.is_header(row)]
    return headers[-1]


def test_file_destination_one_error(qtbot, connected: MainWindow, tmp_path: Path):
    dest = tmp_path / "notes.txt"
    dest.write_text("a file, not a folder")

    results = run_dc(qtbot, connected, dest)

    message = f"The destination {dest} is a file, not a folder; choose a folder for the downloads."
    assert results == []
    assert connected.banner.isVisible()
    assert connected.banner.text.text() == message
    assert connected.statusBar().currentMessage() == f"Download config did not start: {message}"
    assert last_header(connected).endswith("Download config on sofia_001_lr1e-4  \u00b7  not started")
    assert connected.results.results_model.rowCount() == 1
    assert dest.read_text() == "a file, not a folder"
    assert "Not a directory" not in connected.log_panel.toPlainText()


def test_new_destination_hides_error(qtbot, connected: MainWindow, tmp_path: Path):
    dest = tmp_path / "notes.txt"
    dest.write_text("a file, not a folder")
    run_dc(qtbot, connected, dest)
    assert connected.banner.isVisible()

    connected.set_destination(str(tmp_path / "out"))

    assert not connected.banner.isVisible()


def test_missing_destination_created(qtbot, connected: MainWindow, tmp_path: Path):
    dest = tmp_path / "new" / "nested" / "out"

    results = run_dc(qtbot, connected, dest)

    assert [result.status for result in results] == [Status.OK]
    assert (dest / CONFIG / "config" / "multidatabackend.json").is_file()
    qtbot.waitUntil(lambda: "created the destination folder" in connected.log_panel.toPlainText(), timeout=WAIT_MS)
    assert f"created the destination folder {dest}" in connected.log_panel.toPlainText()
    assert not connected.banner.isVisible()


def test_existing_destination_not_logged(qtbot, connected: MainWindow, tmp_path: Path):
    dest = tmp_path / "out"
    dest.mkdir()

    results = run_dc(qtbot, connected, dest)

    assert [result.status for result in results] == [Status.OK]
    assert "created the destination folder" not in connected.log_panel.toPlainText()


def test_destination_under_file_rejected(qtbot, connected: MainWindow, tmp_path: Path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    dest = blocker / "out"

    results = run_dc(qtbot, connected, dest)

    assert results == []
    assert connected.banner.text.text() == (
        f"Cannot create the destination folder {dest}, because {blocker} is a file; choose another folder."
    )
    assert blocker.read_text() == "a file, not a folder"


def test_prepare_reports_created(tmp_path: Path):
    assert prepare_destination(tmp_path / "a" / "b") is True
    assert (tmp_path / "a" / "b").is_dir()
    assert prepare_destination(tmp_path / "a" / "b") is False


def test_prepare_rejects_file(tmp_path: Path):
    path = tmp_path / "notes.txt"
    path.write_text("x")

    with pytest.raises(DestinationError) as caught:
        prepare_destination(path)

    assert str(caught.value) == f"The destination {path} is a file, not a folder; choose a folder for the downloads."


# The window in a child process, because root writes to any folder whatever its mode.
UNWRITABLE_WINDOW = """
import json
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ppdesk.demo import build_demo_workspace
from ppdesk.gui.main_window import MainWindow
from ppdesk.gui.state import WindowState, ini_settings
from ppdesk.remote.local import LocalTransport
from ppdesk.remote.profiles import ProfileStore

app = QApplication([])
dest, scratch = Path(sys.argv[1]), Path(sys.argv[2])
root = build_demo_workspace(scratch / "workspace")
window = MainWindow(WindowState(ini_settings(scratch / "state.ini")), profiles=ProfileStore(scratch / "profiles.json"),
                    demo_parent=scratch / "cache")


def run(_scan):
    window.set_destination(str(dest))
    window.selection.select("sofia", "sofia_001_lr1e-4")
    window.run_tools(["dc"])


def report(results):
    print(json.dumps({"results": len(results), "banner": window.banner.text.text()}))
    app.quit()


window.show()
window.scanFinished.connect(run)
window.runFinished.connect(report)
# Ends a hung run; the test then fails on the missing output.
QTimer.singleShot(60_000, app.quit)
window.add_transport(LocalTransport.for_root(root), "Demo workspace")
app.exec()
window.close()
"""


def test_unwritable_destination_one_error(tmp_path: Path):
    dest = tmp_path / "read-only"
    dest.mkdir()
    dest.chmod(0o555)
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    child = run_without_override(UNWRITABLE_WINDOW, str(dest), str(scratch))

    assert child.returncode == 0, child.stderr
    outcome = json.loads(child.stdout.strip().splitlines()[-1])
    assert outcome["results"] == 0
    assert outcome["banner"] == (
        f"The destination folder {dest} is not writable (Permission denied); "
        f"choose another folder or change its permissions."
    )
    assert list(dest.iterdir()) == []


def test_mover_ignores_file_destination(qtbot, connected: MainWindow, tmp_path: Path):
    dest = tmp_path / "notes.txt"
    dest.write_text("a file, not a folder")
    connected.set_destination(str(dest))
    assert connected.selection.select("sofia", CONFIG)

    with qtbot.waitSignal(connected.runFinished, timeout=WAIT_MS) as blocker:
        assert connected.run_tools(["lm"]) is not None, connected.banner.text.text()

    assert [result.status for result in blocker.args[0]] == [Status.OK]
    assert dest.read_text() == "a file, not a folder"


def test_mover_runs_without_destination(qtbot, connected: MainWindow):
    connected.set_destination("")
    assert connected.selection.select("sofia", CONFIG)

    with qtbot.waitSignal(connected.runFinished, timeout=WAIT_MS) as blocker:
        assert connected.run_tools(["lm"]) is not None, connected.banner.text.text()

    assert [result.status for result in blocker.args[0]] == [Status.OK]
    assert connected.state.destination != "."


def test_download_needs_destination(connected: MainWindow):
    connected.set_destination("")
    assert connected.selection.select("sofia", CONFIG)

    assert connected.run_tools(["lm", "dc"]) is None

    assert connected.banner.text.text().startswith("Choose a destination folder first")
