"""The family and config combos: cascading, "All configs", keeping the selection."""

from __future__ import annotations

from typing import Dict, List

from ppdesk.gui.selection import SelectionPanel, default_family
from ppdesk.tools.workspace import WorkspaceScan

# Bounds a hang of a demo-workspace scan; not a performance assertion.
WAIT_MS = 60_000


def make_scan(families: Dict[str, List[str]]) -> WorkspaceScan:
    configs = [{"name": name, "family": family} for family, names in families.items() for name in names]
    return WorkspaceScan.from_dict({"configs": configs, "families": families, "errors": []})


FAMILIES = {
    "max": ["max_001_base", "max_002_env"],
    "sofia": ["sofia_001_lr1e-4", "sofia_002_lr5e-5", "sofia_010_rank32"],
}


def combo_labels(combo) -> List[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def test_family_choice_refills_configs(qtbot):
    panel = SelectionPanel()
    qtbot.addWidget(panel)
    panel.set_scan(make_scan(FAMILIES))

    assert [panel.family_combo.itemData(i) for i in range(panel.family_combo.count())] == ["max", "sofia"]
    assert combo_labels(panel.config_combo) == ["All configs in max", "max_001_base", "max_002_env"]

    with qtbot.waitSignal(panel.selectionChanged, timeout=1000) as blocker:
        panel.family_combo.setCurrentIndex(1)
    assert blocker.args == ["sofia", ""]
    assert combo_labels(panel.config_combo) == [
        "All configs in sofia",
        "sofia_001_lr1e-4",
        "sofia_002_lr5e-5",
        "sofia_010_rank32",
    ]


def test_all_configs_entry_selects_family(qtbot):
    panel = SelectionPanel()
    qtbot.addWidget(panel)
    panel.set_scan(make_scan(FAMILIES))
    panel.family_combo.setCurrentIndex(panel.family_combo.findData("sofia"))

    assert panel.config_combo.currentIndex() == 0
    assert panel.current() == ("sofia", None)
    assert [entry.name for entry in panel.selected_configs()] == FAMILIES["sofia"]

    panel.config_combo.setCurrentIndex(2)
    assert panel.current() == ("sofia", "sofia_002_lr5e-5")
    assert [entry.name for entry in panel.selected_configs()] == ["sofia_002_lr5e-5"]


def test_rescan_keeps_selection_silently(qtbot):
    panel = SelectionPanel()
    qtbot.addWidget(panel)
    panel.set_scan(make_scan(FAMILIES))
    assert panel.select("sofia", "sofia_002_lr5e-5")

    grown = dict(FAMILIES, sofia=FAMILIES["sofia"] + ["sofia_011_rank64"], anna=["anna_001"])
    with qtbot.assertNotEmitted(panel.selectionChanged):
        panel.set_scan(make_scan(grown))
    assert panel.current() == ("sofia", "sofia_002_lr5e-5")
    assert panel.config_combo.count() == 5


def test_rescan_without_config_falls_back(qtbot):
    panel = SelectionPanel()
    qtbot.addWidget(panel)
    panel.set_scan(make_scan(FAMILIES))
    panel.select("sofia", "sofia_002_lr5e-5")

    with qtbot.waitSignal(panel.selectionChanged, timeout=1000) as blocker:
        panel.set_scan(make_scan(dict(FAMILIES, sofia=["sofia_001_lr1e-4"])))
    assert blocker.args == ["sofia", ""]
    assert panel.current() == ("sofia", None)

    panel.set_scan(make_scan({"max": FAMILIES["max"]}))
    assert panel.current() == ("max", None)


def test_empty_scan_disables_combos(qtbot):
    panel = SelectionPanel()
    qtbot.addWidget(panel)
    panel.set_scan(make_scan(FAMILIES))
    panel.set_scan(make_scan({}))

    assert panel.current() == (None, None)
    assert panel.selected_configs() == []
    assert not panel.family_combo.isEnabled()
    assert not panel.config_combo.isEnabled()


def test_window_rescan_keeps_selection(qtbot, connected):
    assert connected.selection.select("max", "max_002_env")

    with qtbot.waitSignal(connected.scanFinished, timeout=WAIT_MS):
        connected.rescan()
    assert connected.selection.current() == ("max", "max_002_env")
    assert connected.state.family == "max"
    assert connected.state.config == "max_002_env"


def test_window_drops_stale_scan(qtbot, connected):
    connected.rescan()
    with qtbot.assertNotEmitted(connected.scanFinished, wait=0):
        connected.disconnect_workspace()
        qtbot.waitUntil(lambda: connected.pool.active == [], timeout=WAIT_MS)
    assert connected.selection.current() == (None, None)
    assert connected.connection_state == "disconnected"


def make_scan_with_outputs(families: Dict[str, List[str]], with_output: List[str]) -> WorkspaceScan:
    configs = [
        {"name": name, "family": family, "output_exists": name in with_output}
        for family, names in families.items()
        for name in names
    ]
    return WorkspaceScan.from_dict({"configs": configs, "families": families, "errors": []})


def test_default_family_has_output():
    families = {"alpha": ["alpha_1"], "beta": ["beta_1", "beta_2"], "gamma": ["gamma_1"]}
    scan = make_scan_with_outputs(families, with_output=["beta_2", "gamma_1"])

    assert default_family(scan) == "beta"


def test_default_family_without_outputs():
    families = {"alpha": ["alpha_1"], "beta": ["beta_1"]}

    assert default_family(make_scan_with_outputs(families, with_output=[])) == "alpha"
    assert default_family(make_scan_with_outputs({}, with_output=[])) is None
    assert default_family(None) is None


def test_panel_starts_on_family_with_output(qtbot):
    panel = SelectionPanel()
    qtbot.addWidget(panel)
    families = {"alpha": ["alpha_1"], "beta": ["beta_1"]}

    panel.set_scan(make_scan_with_outputs(families, with_output=["beta_1"]))

    assert panel.current() == ("beta", None)


def test_panel_keeps_remembered_family(qtbot):
    panel = SelectionPanel()
    qtbot.addWidget(panel)
    families = {"alpha": ["alpha_1"], "beta": ["beta_1"]}

    panel.set_scan(make_scan_with_outputs(families, with_output=["beta_1"]), prefer=("alpha", "alpha_1"))

    assert panel.current() == ("alpha", "alpha_1")


def test_window_default_family_has_output(connected):
    # The demo's first family, demo.peft-lora, has no output folder.
    assert connected.selection.current() == ("max", None)
    assert connected.state.family == "max"
