"""``ppdesk --self-test``: check that the GUI stack works on this machine.

The self-test builds the demo workspace in a temporary folder and opens the
main window on Qt's offscreen platform (unless ``QT_QPA_PLATFORM`` is
already set). The window scans the workspace through a LocalTransport agent
subprocess and runs the validation grid tool on the first config that has
samples, and its image viewer opens the grid. It passes when the viewer
shows an image of the grid's reported size with the grid's cells.

It is meant for a frozen bundle as much as for a source checkout: it needs
the Qt platform and image plugins, Pillow, the agent entry point and the
demo photos, which are the parts a PyInstaller build can leave out. The Qt
steps live in :mod:`ppdesk.gui.selftest_driver`, since only ``ppdesk.gui``
may import Qt.

Exit status 0 on success, 1 with a message on stderr on any failure or when
it runs longer than the timeout. It never waits for user input.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
# The demo scan and one grid took about 2 s from source on a 2-core machine.
# The margin covers a slow first start of a frozen bundle (an estimate).
DEFAULT_TIMEOUT_S = 120.0
# Extra time after the timeout before the watchdog ends the process, for a
# worker thread stuck where the cancel token cannot reach it.
WATCHDOG_GRACE_S = 30.0


@dataclass
class SelfTestOutcome:
    """The labels of the steps that passed, in order, and how the run ended.

    The last step sets ``completed``. ``failure`` is the message of the first
    step that failed.
    """

    steps: List[str] = field(default_factory=list)
    completed: bool = False
    failure: Optional[str] = None

    @property
    def passed(self) -> bool:
        return self.completed and self.failure is None


def run_self_test(timeout_s: float = DEFAULT_TIMEOUT_S) -> int:
    """Run the self-test, write one line per passed step to stdout, and return the exit status.

    A watchdog thread ends the process with status 1 when the run lasts
    ``WATCHDOG_GRACE_S`` seconds longer than ``timeout_s``, so it never hangs.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    watchdog = threading.Timer(timeout_s + WATCHDOG_GRACE_S, _abort, args=(timeout_s + WATCHDOG_GRACE_S,))
    watchdog.daemon = True
    watchdog.start()
    try:
        with tempfile.TemporaryDirectory(prefix="ppdesk-selftest-") as folder:
            outcome = _run_in_folder(Path(folder), timeout_s)
    finally:
        watchdog.cancel()

    for step in outcome.steps:
        sys.stdout.write(f"self-test: {step}: ok\n")
    if not outcome.passed:
        message = outcome.failure or "the run ended before the viewer step"
        sys.stderr.write(f"ppdesk: self-test failed: {message}\n")
        return EXIT_FAILED
    sys.stdout.write("self-test passed\n")
    return EXIT_OK


def _run_in_folder(folder: Path, timeout_s: float) -> SelfTestOutcome:
    from ppdesk.demo import build_demo_workspace
    from ppdesk.remote.local import LocalTransport

    outcome = SelfTestOutcome()
    try:
        root = build_demo_workspace(folder / "workspace")
    except OSError as exc:
        outcome.failure = f"demo workspace: could not write it into {folder}: {exc}"
        return outcome
    outcome.steps.append(f"demo workspace ({root})")

    try:
        from ppdesk.gui.selftest_driver import run_gui_steps
    except ImportError as exc:
        outcome.failure = f"window: the GUI cannot be imported: {exc}"
        return outcome
    run_gui_steps(LocalTransport.for_root(root), folder / "out", timeout_s, outcome)
    return outcome


def _abort(limit_s: float) -> None:
    sys.stderr.write(f"ppdesk: self-test failed: still running after {limit_s:g} s, ending the process\n")
    sys.stderr.flush()
    os._exit(EXIT_FAILED)
