"""The connection dialog's Test connection result for a workspace root without SimpleTuner."""

from __future__ import annotations

from pathlib import Path

from ppdesk.gui.connection_dialog import OK_STYLE, WARNING_STYLE, ConnectionDialog
from ppdesk.gui.workers import WorkerPool
from ppdesk.remote.local import LocalTransport
from ppdesk.remote.profiles import Profile, ProfileStore

WAIT_MS = 60_000


def run_test(qtbot, tmp_path: Path, root: Path):
    """Run Test connection against a local workspace at ``root``; return the dialog and testFinished's arguments."""
    dialog = ConnectionDialog(
        ProfileStore(tmp_path / "profiles.json"), WorkerPool(), lambda profile: LocalTransport.for_root(root)
    )
    qtbot.addWidget(dialog)
    qtbot.waitSignal(dialog.profilesLoaded, timeout=WAIT_MS).wait()
    dialog.set_form(Profile(name="local", host="127.0.0.1", auth="agent", root=str(root)))

    with qtbot.waitSignal(dialog.testFinished, timeout=WAIT_MS) as blocker:
        dialog.test_connection()

    return dialog, blocker.args


def test_missing_root_warns(qtbot, tmp_path):
    root = tmp_path / "x" / "nothere"

    dialog, (connected, text) = run_test(qtbot, tmp_path, root)

    assert connected
    assert text.startswith(
        f"Connected, but {root} does not exist on the pod; set the workspace root to the folder that contains "
        f"SimpleTuner. Python 3."
    )
    assert dialog.test_result.text() == text
    assert dialog.test_result.styleSheet() == WARNING_STYLE
    assert not (tmp_path / "x").exists()


def test_root_without_simpletuner_warns(qtbot, tmp_path):
    root = tmp_path / "workspace"
    root.mkdir()

    dialog, (connected, text) = run_test(qtbot, tmp_path, root)

    assert connected
    assert text.startswith(
        f"Connected, but {root} has no SimpleTuner/config folder; set the workspace root to the folder that "
        f"contains SimpleTuner. Python 3."
    )
    assert dialog.test_result.styleSheet() == WARNING_STYLE
    assert sorted(path.name for path in root.iterdir()) == []


def test_root_with_config_folder_is_green(qtbot, tmp_path, demo_root):
    dialog, (connected, text) = run_test(qtbot, tmp_path, demo_root)

    assert connected
    assert text.startswith("Connected. Python 3.")
    assert dialog.test_result.styleSheet() == OK_STYLE
