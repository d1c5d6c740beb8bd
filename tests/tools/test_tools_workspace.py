"""WorkspaceScan selection and the scan of a demo workspace through LocalTransport."""

from __future__ import annotations

from pathlib import Path

import pytest

from ppdesk.demo import build_demo_workspace
from ppdesk.remote.local import LocalTransport
from ppdesk.tools.workspace import ConfigEntry, WorkspaceScan, scan_workspace


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> WorkspaceScan:
    root = build_demo_workspace(tmp_path_factory.mktemp("scan") / "ws")
    return scan_workspace(LocalTransport.for_root(root))


def test_scan_lists_configs_in_natural_order(scan: WorkspaceScan):
    names = [entry.name for entry in scan.configs]
    assert names.index("sofia_002_lr5e-5") < names.index("sofia_010_rank32")
    assert "examples/demo.peft-lora" in names
    assert scan.families["sofia"] == ["sofia_001_lr1e-4", "sofia_002_lr5e-5", "sofia_010_rank32"]
    assert scan.families["max"] == ["max_001_base", "max_002_env"]
    assert scan.errors == []


def test_scan_entry_fields(scan: WorkspaceScan):
    entry = scan.config("sofia_001_lr1e-4")
    assert entry is not None
    assert entry.checkpoints == [100, 200, 300]
    assert entry.newest_checkpoint == 300
    assert entry.validation_samples == 12
    assert entry.output_exists is True
    assert len(entry.final_weights) == 1
    assert len(entry.datasets) == 1
    assert entry.last_segment == "sofia_001_lr1e-4"


def test_select_family(scan: WorkspaceScan):
    selected = scan.select("max")
    assert [entry.name for entry in selected] == ["max_001_base", "max_002_env"]


def test_select_config(scan: WorkspaceScan):
    [entry] = scan.select(None, "examples/demo.peft-lora")
    assert entry.family == "demo.peft-lora"
    assert entry.last_segment == "demo.peft-lora"


def test_select_unknown_family_names_known(scan: WorkspaceScan):
    with pytest.raises(ValueError) as caught:
        scan.select("sofa")
    message = str(caught.value)
    assert "'sofa'" in message
    assert "sofia" in message
    assert "max" in message


def test_select_unknown_config_names_known(scan: WorkspaceScan):
    with pytest.raises(ValueError) as caught:
        scan.select(None, "sofia_003")
    assert "'sofia_003'" in str(caught.value)
    assert "sofia_001_lr1e-4" in str(caught.value)


def test_select_config_of_other_family(scan: WorkspaceScan):
    with pytest.raises(ValueError, match="belongs to family 'max'"):
        scan.select("sofia", "max_001_base")


def test_select_needs_something(scan: WorkspaceScan):
    with pytest.raises(ValueError, match="select a family or a config"):
        scan.select(None)


def test_entry_rejects_nameless_data():
    with pytest.raises(ValueError, match="invalid config entry"):
        ConfigEntry.from_dict({"family": "x"})


def test_entry_ignores_unknown_keys():
    entry = ConfigEntry.from_dict({"name": "a_1", "family": "a", "future_field": 3, "output": None})
    assert entry.output is None
    assert entry.checkpoints == []


def test_scan_of_missing_config_folder(tmp_path: Path):
    (tmp_path / "SimpleTuner").mkdir()
    scan = scan_workspace(LocalTransport.for_root(tmp_path))
    assert scan.configs == []
    assert len(scan.errors) == 1
    assert "config" in scan.errors[0]
