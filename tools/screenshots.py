"""Render the main screens of the desktop app to docs/screenshots/*.png.

Builds a demo workspace in a temporary folder, connects the main window to
it through LocalTransport, runs a real post-process on the sofia family and
then a validation grid with the base model row on sofia_010_rank32. Then it
grabs each screen with QWidget.grab(): the main window, its keyboard
shortcuts list, progress, results, the connection dialog filled from a
pasted command, the image viewer on a validation grid, the compare window on
the same grid of two configs, and the output browser with two configs
selected. Run it under Xvfb with the xcb platform, as the README shows:
``xvfb-run -a -s "-screen 0 1400x900x24" env QT_QPA_PLATFORM=xcb python3
tools/screenshots.py``. It runs on the offscreen platform as well.

The settings, the profiles and HOME go to the temporary folder, so the
user's remembered window state and files are left alone. HOME holds a
generated key as ~/.ssh/id_ed25519, so the dialog's key check passes.

The demo workspace is too small for a download to stay on screen, so the
progress screenshot feeds the progress panel a made-up 300 MB download
(the same ProgressEvent objects the tools send) instead of a live run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, List

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from ppdesk.demo import build_demo_workspace  # noqa: E402
from ppdesk.gui.app import app_icon, ensure_application  # noqa: E402
from ppdesk.gui.connection_dialog import ConnectionDialog  # noqa: E402
from ppdesk.gui.main_window import MainWindow  # noqa: E402
from ppdesk.gui.state import WindowState, ini_settings  # noqa: E402
from ppdesk.remote.local import LocalTransport  # noqa: E402
from ppdesk.remote.profiles import Profile, ProfileStore  # noqa: E402
from ppdesk.tools.base import ProgressEvent  # noqa: E402

log = logging.getLogger("ppdesk.screenshots")

MIB = 1024 * 1024
# Tall enough for the results of both runs under their header rows.
WINDOW_SIZE = (1180, 820)
# The demo config whose output has base model images.
BASE_ROW_CONFIG = "sofia_010_rank32"


def save(widget: QWidget, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    if not widget.grab().save(str(path)):
        raise OSError(f"cannot write {path}")
    log.info("wrote %s", path)
    return path


def fake_download(window: MainWindow) -> None:
    """Put the progress panel into the state of a download in the middle of a post-process."""
    panel = window.progress
    panel.begin("Post-process", steps=15)
    for _ in range(3):
        panel.step_finished()
    files = [("output/big-sample-archive.bin", 300 * MIB, 121 * MIB), ("output/checkpoint-1200/pytorch_lora_weights.safetensors", 86 * MIB, 52 * MIB)]
    clock = [0.0]
    panel._meter._clock = lambda: clock[0]
    for second in range(4):
        clock[0] = float(second)
        for name, size, done in files:
            panel.update_progress(
                ProgressEvent(
                    tool="do",
                    config="sofia_001_lr1e-4",
                    message=f"downloading {name}",
                    done=sum(d for _n, _s, d in files) * (second + 1) // 4,
                    total=sum(s for _n, s, _d in files),
                    unit="bytes",
                    file=name,
                    file_done=done * (second + 1) // 4,
                    file_total=size,
                )
            )
    panel.show()


def write_demo_key(home: Path) -> Path:
    """Write a new unencrypted Ed25519 private key to ``home/.ssh/id_ed25519``, for the dialog's key check."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = home / ".ssh" / "id_ed25519"
    path.parent.mkdir(parents=True, mode=0o700)
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    path.write_bytes(key)
    path.chmod(0o600)
    return path


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots", help="folder for the PNG files")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    scratch = Path(tempfile.mkdtemp(prefix="ppdesk-screenshots-"))
    os.environ["HOME"] = str(scratch / "home")
    write_demo_key(scratch / "home")
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(scratch / "qsettings"))
    app = ensure_application()
    app.setWindowIcon(app_icon())
    root = build_demo_workspace(scratch / "workspace")

    window = MainWindow(WindowState(ini_settings(scratch / "state.ini")), profiles=ProfileStore(scratch / "profiles.json"))
    # The post-process must not pop the viewer up over the results screenshot.
    window.show_images = lambda paths: None
    window.resize(*WINDOW_SIZE)
    window.show()
    window.set_destination(str(scratch / "downloads"))
    steps: List[Callable[[], None]] = []

    def after_scan(_scan: object) -> None:
        window.selection.select("sofia")
        QTimer.singleShot(200, steps.pop(0))

    def shoot_main() -> None:
        save(window, args.out, "main-window")
        dialog = window.show_shortcuts()
        QTimer.singleShot(200, lambda: shoot_shortcuts(dialog))

    def shoot_shortcuts(dialog: QWidget) -> None:
        save(dialog, args.out, "shortcuts")
        dialog.close()
        fake_download(window)
        QTimer.singleShot(200, steps.pop(0))

    def shoot_progress() -> None:
        save(window, args.out, "progress")
        window.progress.finish()
        window.run_post_process()

    def after_run(_results: object) -> None:
        QTimer.singleShot(200, steps.pop(0))

    def run_base_row_grid() -> None:
        window.selection.select("sofia", BASE_ROW_CONFIG)
        window.include_base_box.setChecked(True)
        window.run_tools(["vg"])

    def shoot_results() -> None:
        window.splitter.setSizes([520, 110])
        window.results.scrollToBottom()
        QTimer.singleShot(200, shoot_results_now)

    def shoot_results_now() -> None:
        save(window, args.out, "results")
        store = ProfileStore(scratch / "profiles.json")
        store.save(Profile(name="runpod-a100", host="127.0.0.1", port=22101, key_file="~/.ssh/id_ed25519"))
        dialog = ConnectionDialog(store, window.pool, window._ssh_transport, window, select="runpod-a100")
        dialog.show()
        dialog.profilesLoaded.connect(lambda _count: QTimer.singleShot(200, lambda: paste_command(dialog)))

    def paste_command(dialog: ConnectionDialog) -> None:
        dialog.new_profile()
        shot: List[bool] = []

        # The emptied form is checked too, so only the check of the pasted key takes the screenshot.
        def on_checked(path: str, _message: str) -> None:
            if path == "~/.ssh/id_ed25519" and not shot:
                shot.append(True)
                QTimer.singleShot(200, lambda: shoot_dialog(dialog))

        dialog.key_field.checked.connect(on_checked)
        dialog.command_edit.setText("ssh root@127.0.0.1 -p 22101 -i ~/.ssh/id_ed25519")
        dialog.fill_from_command()

    def shoot_dialog(dialog: ConnectionDialog) -> None:
        save(dialog, args.out, "connection-dialog")
        dialog.close()
        viewer = window.image_viewer()
        viewer.resize(1100, 760)
        viewer.image_loaded.connect(lambda _path: QTimer.singleShot(200, steps.pop(0)))
        viewer.open_images([window.grid_history[0]])
        viewer.show()

    def shoot_viewer() -> None:
        viewer = window.image_viewer()
        sidecar = viewer.overlay.sidecar
        if sidecar is not None and len(sidecar.cells) > 4:
            viewer.overlay.highlight(sidecar.cells[4])
        save(viewer, args.out, "viewer-grid")
        viewer.close()
        window.open_compare(window.grid_history[0])
        compare = window._compare
        compare.resize(1300, 760)
        QTimer.singleShot(800, steps.pop(0))

    def shoot_compare() -> None:
        compare = window._compare
        compare.left.view.zoom_in()
        compare.left.view.set_relative_center(0.5, 0.3)
        save(compare, args.out, "compare")
        compare.close()
        window.open_output_browser()
        browser = window._browser
        browser.select_names(["sofia_001_lr1e-4", "sofia_002_lr5e-5"])
        QTimer.singleShot(200, steps.pop(0))

    def shoot_browser() -> None:
        save(window._browser, args.out, "output_browser")
        window.close()
        app.quit()

    steps += [shoot_main, shoot_progress, run_base_row_grid, shoot_results, shoot_viewer, shoot_compare, shoot_browser]
    window.scanFinished.connect(after_scan)
    window.runFinished.connect(after_run)
    window.add_transport(LocalTransport.for_root(root), "Demo workspace")
    status = app.exec()
    QApplication.processEvents()
    return status


if __name__ == "__main__":
    sys.exit(main())
