"""The key file field of the connection dialog, with its check shown below it.

The check is :func:`ppdesk.remote.ssh_auth.check_key_file`, the same one the
command line and the connection run. It reads the file, so it runs in a
worker, and its result is shown only while the field still contains that path.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Optional, Tuple

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ppdesk.gui.workers import WorkerPool

log = logging.getLogger(__name__)

ERROR_STYLE = "color: #c62828;"


class KeyFileField(QWidget):
    """A path edit with a Browse button and a message line for the file's problem.

    When the check found a private key next to the path (the file without
    .pub, or an ``id_*`` file in a chosen folder), a button offers to use it.

    Signals: ``checked(path, message)`` after a check of ``path`` ended
    while the field still held it; ``message`` is "" when the file is a
    readable private key. A check whose path was replaced meanwhile is
    dropped without a signal.
    """

    checked = Signal(str, str)

    def __init__(self, pool: WorkerPool, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.pool = pool
        # Increases with every check started, so the result of an older check can be recognised.
        self._generation = 0
        self._suggestion = ""

        self.edit = QLineEdit()
        self.edit.setObjectName("keyFileEdit")
        self.edit.setPlaceholderText("~/.ssh/id_ed25519 (the private key, not the .pub file)")
        self.edit.editingFinished.connect(self.check)
        self.edit.textEdited.connect(self._on_edited)
        self.browse_button = QPushButton("Browse...")
        self.browse_button.setAutoDefault(False)
        self.browse_button.clicked.connect(self._browse)
        self.error_label = QLabel()
        self.error_label.setObjectName("keyFileError")
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.use_button = QPushButton()
        self.use_button.setObjectName("useSuggestedKey")
        self.use_button.setAutoDefault(False)
        self.use_button.clicked.connect(self._use_suggestion)
        self.use_button.hide()

        message_row = QHBoxLayout()
        message_row.setContentsMargins(0, 0, 0, 0)
        message_row.addWidget(self.error_label, 1)
        message_row.addWidget(self.use_button, 0, Qt.AlignmentFlag.AlignTop)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.browse_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addLayout(message_row)
        # The form's "Key file" label and Tab move the focus into the edit.
        self.setFocusProxy(self.edit)

    def text(self) -> str:
        return self.edit.text()

    def set_text(self, path: str) -> None:
        """Show ``path`` and check it when the field is enabled."""
        self.edit.setText(path)
        self.check()

    def show_error(self, message: str, suggestion: str = "") -> None:
        """Show ``message``, with a button that puts ``suggestion`` into the field when it is not empty."""
        self.error_label.setText(message)
        self.error_label.show()
        self._suggestion = suggestion
        self.use_button.setText(f"Use {os.path.basename(suggestion)}")
        self.use_button.setToolTip(suggestion)
        self.use_button.setVisible(bool(suggestion))

    def clear_error(self) -> None:
        self.error_label.clear()
        self.error_label.hide()
        self._suggestion = ""
        self.use_button.hide()

    @Slot()
    def check(self) -> None:
        """Check the current path in a worker.

        A disabled field (no key login) or an empty one only clears the message.
        """
        self._generation += 1
        if not self.isEnabled():
            self.clear_error()
            return
        path = self.edit.text()
        if not path.strip():
            # A new form starts empty; saving names the missing file.
            self.clear_error()
            return
        generation = self._generation
        worker = self.pool.start(lambda _token, _report: _check(generation, path), name="check key file")
        # Bound methods, not lambdas: Qt drops them when the field is deleted before the worker ends.
        worker.signals.result.connect(self._on_checked)
        worker.signals.error.connect(self._on_check_failed)

    @Slot(object)
    def _on_checked(self, outcome: Tuple[int, str, str, str]) -> None:
        generation, path, message, suggestion = outcome
        if generation != self._generation or path != self.edit.text():
            log.debug("dropped the check of an older key file path")
            return
        if message:
            self.show_error(message, suggestion)
        else:
            self.clear_error()
        self.checked.emit(path, message)

    @Slot(str)
    def _on_check_failed(self, message: str) -> None:
        log.error("checking the key file failed: %s", message)

    @Slot(str)
    def _on_edited(self, _text: Any) -> None:
        # A message about the old path would be wrong for the new one.
        self._generation += 1
        self.clear_error()

    @Slot()
    def _use_suggestion(self) -> None:
        if self._suggestion:
            self.set_text(self._suggestion)

    @Slot()
    def _browse(self) -> None:
        start = os.path.expanduser(self.edit.text() or "~/.ssh")
        path, _filter = QFileDialog.getOpenFileName(self, "Choose the private key file", start)
        if path:
            self.set_text(path)


def _check(generation: int, path: str) -> Tuple[int, str, str, str]:
    """Return ``(generation, path, message, suggestion)``; the message is "" for a usable key file."""
    # Imported here, so that paramiko loads only when a key file is checked.
    from ppdesk.remote.ssh_auth import KeyFileError, check_key_file

    try:
        check_key_file(path)
    except KeyFileError as exc:
        return generation, path, str(exc), exc.suggestion or ""
    return generation, path, "", ""
