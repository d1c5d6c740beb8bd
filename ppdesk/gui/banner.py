"""The message banner above the results: the last error or notice, until fixed or dismissed."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QStyle, QToolButton, QWidget

# Causes of a banner message that a later action can fix, passed to MessageBanner.resolve.
CAUSE_CONNECTION = "connection"
CAUSE_DESTINATION = "destination"
CAUSE_RUN = "run"
CAUSE_SELECTION = "selection"


class MessageBanner(QFrame):
    """A dismissable line above the results that shows the last error or notice.

    A message may name its ``cause`` (one of the ``CAUSE_*`` values), and
    :meth:`resolve` hides the banner once that cause is fixed, so a stale
    hint such as "choose a destination" does not stay until the next run.
    """

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBanner")
        self.icon = QLabel()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("\u00d7")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.icon)
        layout.addWidget(self.text, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.cause = ""
        self.hide()

    def show_message(self, text: str, error: bool = True, cause: str = "") -> None:
        pixmap = QStyle.StandardPixmap.SP_MessageBoxCritical if error else QStyle.StandardPixmap.SP_MessageBoxInformation
        self.icon.setPixmap(self.style().standardIcon(pixmap).pixmap(20, 20))
        colour = "#fdecea" if error else "#e8f1fb"
        border = "#e57373" if error else "#90b4e0"
        self.setStyleSheet(
            f"#messageBanner {{ background: {colour}; border: 1px solid {border}; border-radius: 4px; }}"
            "#messageBanner QLabel { color: #202020; }"
        )
        self.text.setText(text)
        self.cause = cause
        self.show()

    def resolve(self, cause: str) -> None:
        """Hide the banner when its message was shown for ``cause``."""
        if self.cause == cause and self.isVisible():
            self.hide()
            self.cause = ""
