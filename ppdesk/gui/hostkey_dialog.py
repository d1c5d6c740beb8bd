"""Host key dialogs and the bridge that shows connection prompts on the GUI thread.

SSH connects on a worker thread, but its questions (accept this unknown host
key? the passphrase of this key? the password?) need dialogs, which only the
GUI thread may create. :class:`GuiPrompter` carries each question to the GUI
thread through a queued signal and blocks the worker on a
:class:`threading.Event` until the GUI slot has the user's reply.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Tuple

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QStyle,
    QHBoxLayout,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from ppdesk.remote.hostkeys import HostKeyChangedError, HostKeyInfo

log = logging.getLogger(__name__)

# A blocked worker checks this often whether the prompter was shut down.
_POLL_S = 0.2


def _fixed_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _header(icon: QStyle.StandardPixmap, text: str, style: QStyle) -> QHBoxLayout:
    row = QHBoxLayout()
    picture = QLabel()
    picture.setPixmap(style.standardIcon(icon).pixmap(40, 40))
    picture.setAlignment(Qt.AlignmentFlag.AlignTop)
    message = QLabel(text)
    message.setWordWrap(True)
    row.addWidget(picture)
    row.addWidget(message, 1)
    return row


class HostKeyDialog(QDialog):
    """Ask whether to trust a server whose host key is not known yet.

    ``exec()`` returns Accepted when the user trusts the key; Cancel is the
    default button, so Enter does not accept by accident.
    """

    def __init__(self, info: "HostKeyInfo", parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Unknown host key")
        self.setObjectName("hostKeyDialog")
        text = (
            f"ppdesk has not connected to <b>{info.host}:{info.port}</b> before. "
            "Compare the fingerprint below with the one your pod provider shows "
            "(or that <code>ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub</code> prints on the pod). "
            "Accept only when they match."
        )
        form = QFormLayout()
        form.addRow("Server:", _fixed_label(info.name))
        form.addRow("Key type:", _fixed_label(info.key_type))
        self.fingerprint_label = _fixed_label(info.fingerprint)
        form.addRow("Fingerprint:", self.fingerprint_label)
        saved = QLabel(info.saved_to)
        saved.setWordWrap(True)
        form.addRow("Saved to:", saved)

        buttons = QDialogButtonBox()
        self.accept_button = buttons.addButton("Accept and connect", QDialogButtonBox.ButtonRole.AcceptRole)
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(_header(QStyle.StandardPixmap.SP_MessageBoxQuestion, text, self.style()))
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(560)


class ChangedHostKeyDialog(QDialog):
    """Warn that a server's host key differs from the stored one.

    The default button keeps the stored key and does not connect.
    ``exec()`` returns Accepted only when the user chose to replace the
    stored key on purpose.
    """

    def __init__(self, error: "HostKeyChangedError", parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        # Imported here: paramiko loads only when a host key is shown.
        from ppdesk.remote.hostkeys import host_key_name, sha256_fingerprint

        self.setWindowTitle("Host key changed")
        self.setObjectName("changedHostKeyDialog")
        stored = error.stored.key
        text = (
            f"<b>The host key of {error.host}:{error.port} has changed.</b> A recreated pod gets a new "
            "key, but so does a machine that intercepts the connection. ppdesk did not connect. "
            "Replace the stored key only if you know the pod was recreated."
        )
        form = QFormLayout()
        form.addRow("Server:", _fixed_label(host_key_name(error.host, error.port)))
        self.stored_label = _fixed_label(f"{stored.get_name()} {sha256_fingerprint(stored)}")
        self.new_label = _fixed_label(f"{error.new_key.get_name()} {sha256_fingerprint(error.new_key)}")
        form.addRow("Stored key:", self.stored_label)
        form.addRow("Server sent:", self.new_label)
        source = QLabel(str(error.stored.source))
        source.setWordWrap(True)
        form.addRow("Stored in:", source)

        buttons = QDialogButtonBox()
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.setDefault(True)
        self.replace_button = buttons.addButton("Replace stored key", QDialogButtonBox.ButtonRole.DestructiveRole)
        self.replace_button.clicked.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(_header(QStyle.StandardPixmap.SP_MessageBoxCritical, text, self.style()))
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(600)


@dataclass
class _Question:
    kind: str
    args: Tuple[Any, ...]
    answered: threading.Event = field(default_factory=threading.Event)
    answer: Any = None


class GuiPrompter(QObject):
    """Answer SSH questions with dialogs, callable from any thread.

    Create it in the GUI thread. :meth:`confirm_host_key`,
    :meth:`ask_passphrase` and :meth:`ask_password` match the transport's
    callbacks. From a worker they block until the user has replied, and from
    the GUI thread they show the dialog directly. After :meth:`shut_down` every
    question is answered "no" at once. The ``show_*`` attributes build the
    dialogs and may be replaced (tests do).
    """

    _asked = Signal(object)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._parent_widget = parent
        self._closed = threading.Event()
        self._asked.connect(self._answer, Qt.ConnectionType.QueuedConnection)
        self.show_host_key: Callable[["HostKeyInfo"], bool] = self._show_host_key
        self.show_passphrase: Callable[[str], Optional[str]] = self._show_passphrase
        self.show_password: Callable[[str, str], Optional[str]] = self._show_password

    # -- callbacks for the transport (any thread) --------------------------

    def confirm_host_key(self, info: "HostKeyInfo") -> bool:
        return bool(self._ask("host_key", info))

    def ask_passphrase(self, key_file: str) -> Optional[str]:
        return self._ask("passphrase", key_file)

    def ask_password(self, user: str, host: str) -> Optional[str]:
        return self._ask("password", user, host)

    def shut_down(self) -> None:
        """Answer every pending and future question with "no" (window closing)."""
        self._closed.set()

    # -- internals ----------------------------------------------------------

    def _ask(self, kind: str, *args: Any) -> Any:
        if self._closed.is_set():
            return None
        question = _Question(kind, args)
        if QThread.currentThread() == self.thread():
            self._answer(question)
            return question.answer
        self._asked.emit(question)
        while not question.answered.wait(_POLL_S):
            if self._closed.is_set():
                return None
        return question.answer

    @Slot(object)
    def _answer(self, question: _Question) -> None:
        try:
            if self._closed.is_set():
                question.answer = None
            elif question.kind == "host_key":
                question.answer = self.show_host_key(*question.args)
            elif question.kind == "passphrase":
                question.answer = self.show_passphrase(*question.args)
            else:
                question.answer = self.show_password(*question.args)
        finally:
            question.answered.set()

    def _show_host_key(self, info: "HostKeyInfo") -> bool:
        dialog = HostKeyDialog(info, self._parent_widget)
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        log.info("host key %s %s of %s %s", info.key_type, info.fingerprint, info.name, "accepted" if accepted else "rejected")
        return accepted

    def _show_passphrase(self, key_file: str) -> Optional[str]:
        text, ok = QInputDialog.getText(
            self._parent_widget,
            "Key passphrase",
            f"Passphrase for the key {key_file}:",
            QLineEdit.EchoMode.Password,
        )
        return text if ok else None

    def _show_password(self, user: str, host: str) -> Optional[str]:
        text, ok = QInputDialog.getText(
            self._parent_widget,
            "SSH password",
            f"Password for {user}@{host}:",
            QLineEdit.EchoMode.Password,
        )
        return text if ok else None
