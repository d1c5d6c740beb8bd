"""The "Include base model row" check box: passed to runs, hinted at, remembered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import List

from ppdesk.gui.main_window import MainWindow
from ppdesk.gui.state import WindowState, ini_settings
from ppdesk.tools import ORDER
from ppdesk.tools.base import Status, ToolResult

# Bounds a hang of a tool run on the demo workspace; not a performance assertion.
WAIT_MS = 120_000
# The demo config whose output has base model images in benchmarks/base_model.
CONFIG_WITH_BASE = "sofia_010_rank32"


def run_and_wait(qtbot, window: MainWindow, start_run) -> List[ToolResult]:
    with qtbot.waitSignal(window.runFinished, timeout=WAIT_MS) as blocker:
        start_run()
        # Cancel run is enabled only while a run is active; the banner shows why a run did not start.
        assert window.cancel_action.isEnabled(), window.banner.text.text()
    return blocker.args[0]


def grid_rows(dest: Path, config: str) -> List[object]:
    sidecar = dest / config / "grids" / f"{config}-validation-grid.json"
    return json.loads(sidecar.read_text(encoding="utf-8"))["rows"]


def test_post_process_gets_include_base(qtbot, connected, tmp_path):
    dest = tmp_path / "out"
    connected.set_destination(str(dest))
    assert connected.selection.select("sofia", CONFIG_WITH_BASE)
    connected.include_base_box.setChecked(True)

    results = run_and_wait(qtbot, connected, connected.run_post_process)

    [grid] = [result for result in results if result.tool == "vg"]
    assert [result.tool for result in results] == ORDER
    assert grid.status is Status.OK, grid.message
    assert grid.details["rows"] == 3
    assert grid_rows(dest, CONFIG_WITH_BASE) == [1000, 500, "base"]


def test_grid_without_include_base(qtbot, connected, tmp_path):
    dest = tmp_path / "out"
    connected.set_destination(str(dest))
    assert connected.selection.select("sofia", CONFIG_WITH_BASE)
    assert not connected.include_base_box.isChecked()

    results = run_and_wait(qtbot, connected, lambda: connected.run_tools(["vg"]))

    assert results[0].details["rows"] == 2
    assert grid_rows(dest, CONFIG_WITH_BASE) == [1000, 500]


def add_step_zero_sample(demo_root: Path, config: str) -> None:
    folder = demo_root / "SimpleTuner" / "output" / config / "validation_images"
    shutil.copyfile(folder / "step_100_portrait_0_160x160.png", folder / "step_0_portrait_0_160x160.png")


def test_left_out_step_zero_names_check_box(qtbot, connected, demo_root, tmp_path):
    add_step_zero_sample(demo_root, "sofia_001_lr1e-4")
    with qtbot.waitSignal(connected.scanFinished, timeout=WAIT_MS):
        connected.rescan()
    connected.set_destination(str(tmp_path / "out"))
    assert connected.selection.select("sofia", "sofia_001_lr1e-4")

    left_out = run_and_wait(qtbot, connected, lambda: connected.run_tools(["vg"]))
    connected.include_base_box.setChecked(True)
    included = run_and_wait(qtbot, connected, lambda: connected.run_tools(["vg"]))

    assert left_out[0].details["base_samples_left_out"] == 1
    assert left_out[0].message.endswith(
        "; 1 step-0 (base model) sample left out; tick Include base model row to add them"
    )
    assert included[0].details["base_samples_left_out"] == 0
    assert "Include base model row" not in included[0].message
    # The second grid differs from the first, so it is saved under a numbered name beside it.
    [sidecar] = [Path(path) for path in included[0].local_files if path.endswith(".json")]
    assert json.loads(sidecar.read_text(encoding="utf-8"))["rows"] == [400, 300, 200, 100, 0]


def test_include_base_remembered(qtbot, window, window_state):
    assert not window.include_base_box.isChecked()

    window.include_base_box.setChecked(True)
    window.close()
    again = MainWindow(window_state)
    qtbot.addWidget(again)

    assert window_state.include_base is True
    assert again.include_base_box.isChecked()
    again.include_base_box.setChecked(False)
    assert window_state.include_base is False


def test_include_base_read_from_ini(tmp_path):
    path = tmp_path / "state.ini"
    path.write_text("[tools]\ninclude_base=true\n", encoding="utf-8")
    assert WindowState(ini_settings(path)).include_base is True

    path.write_text("[tools]\ninclude_base=false\n", encoding="utf-8")
    assert WindowState(ini_settings(path)).include_base is False

    path.write_text("[tools]\ninclude_base=maybe\n", encoding="utf-8")
    assert WindowState(ini_settings(path)).include_base is False


def test_check_box_disabled_while_running(qtbot, connected, tmp_path):
    connected.set_destination(str(tmp_path / "out"))
    assert connected.selection.select("sofia", "sofia_001_lr1e-4")

    with qtbot.waitSignal(connected.runFinished, timeout=WAIT_MS):
        assert connected.run_tools(["dc"]) is not None
        assert not connected.include_base_box.isEnabled()

    assert connected.include_base_box.isEnabled()
    assert connected.include_base_box.toolTip().startswith("Validation grid: keep the step-0")
