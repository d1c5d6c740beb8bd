"""A read-only text panel that shows the application's log records.

:class:`QtLogHandler` is a :class:`logging.Handler` that may be called from
any thread; it forwards each formatted line through a Qt signal, so the
:class:`LogPanel` appends it on the GUI thread.
"""

from __future__ import annotations

import html
import logging
from typing import Optional

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QWidget

# The panel keeps this many lines; older ones scroll away.
MAX_LINES = 5000


class _ShortFormatter(logging.Formatter):
    """Format time, level and message only: tracebacks stay in the log file."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s  %(levelname)-7s %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        return self.formatMessage(record)


class _Bridge(QObject):
    line = Signal(str, int)


class QtLogHandler(logging.Handler):
    """Forward log records to a signal; safe to call from any thread.

    ``bridge.line(text, levelno)`` is emitted for each record. A record that
    cannot be formatted goes to :meth:`logging.Handler.handleError`, as the
    logging package expects of handlers.
    """

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.bridge = _Bridge()
        self.setFormatter(_ShortFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except (TypeError, ValueError, KeyError):
            self.handleError(record)
            return
        try:
            self.bridge.line.emit(text, record.levelno)
        except RuntimeError:
            # The bridge was deleted while the app shut down, so the record is dropped.
            pass


class LogPanel(QPlainTextEdit):
    """Show log lines; warnings and errors are coloured.

    While the view is at the bottom it follows new lines, also when the panel
    shrinks. A user who scrolled up keeps the position until scrolling back
    to the bottom.
    """

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LINES)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setPlaceholderText("Log messages appear here.")
        self.handler: Optional[QtLogHandler] = None
        # Whether the view stays on the newest line: True until the user scrolls up.
        self._follow = True
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range_changed)

    def attach(self, logger: logging.Logger, level: int = logging.INFO) -> QtLogHandler:
        """Add a handler to ``logger`` that feeds this panel; return it."""
        handler = QtLogHandler(level)
        handler.bridge.line.connect(self.append_line)
        logger.addHandler(handler)
        if logger.getEffectiveLevel() > level:
            logger.setLevel(level)
        self.handler = handler
        self._logger = logger
        return handler

    def detach(self) -> None:
        """Remove the handler again (call before the panel is destroyed)."""
        if self.handler is not None:
            self._logger.removeHandler(self.handler)
            self.handler.bridge.line.disconnect(self.append_line)
            self.handler = None

    def at_bottom(self) -> bool:
        """Return whether the newest line is in view (always True while nothing scrolls)."""
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum()

    @Slot(int)
    def _on_scrolled(self, value: int) -> None:
        self._follow = value >= self.verticalScrollBar().maximum()

    @Slot(int, int)
    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        # New lines and a shrinking panel both raise the maximum without moving the view.
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    @Slot(str, int)
    def append_line(self, text: str, levelno: int) -> None:
        if levelno >= logging.ERROR:
            colour = "#c62828"
        elif levelno >= logging.WARNING:
            colour = "#b26a00"
        else:
            colour = self.palette().text().color().name()
        # Every line goes in as HTML with an explicit colour, because a plain
        # line appended after a coloured one would inherit its colour.
        escaped = html.escape(text, quote=False)
        self.appendHtml(f'<span style="white-space:pre; color:{colour}">{escaped}</span>')
