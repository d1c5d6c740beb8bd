"""Guard against Qt bindings that corrupt Python's reference counts."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QLabel


def test_void_calls_keep_none_refcount(qtbot):
    # PySide6 6.12.0 on CPython 3.11 lost one reference to None per call of a
    # method returning nothing, and the interpreter aborted once it hit zero.
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
    after = sys.getrefcount(None)
    assert after >= before - 10, f"None lost {before - after} references over 2000 calls"
