"""Per-user locations and logging set-up.

Folders come from platformdirs under the application name ``ppdesk`` (on
Linux ``~/.config/ppdesk``, ``~/.cache/ppdesk`` and ``~/.local/state/ppdesk/log``,
each following the XDG variables).
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from pathlib import Path

import platformdirs

APP_NAME = "ppdesk"
# Folder name of the default local destination: below the current folder on
# the command line, below the home folder in the GUI.
DEFAULT_DESTINATION_NAME = "ppdesk-out"
LOG_FILE_NAME = "ppdesk.log"
LOG_FILE_BYTES = 1_000_000
LOG_FILE_BACKUPS = 3
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"

# Set on every handler that setup_logging installs, so a second call replaces them.
_HANDLER_MARK = "_ppdesk_handler"
# key=value or "key": "value" pairs whose value must not reach a log.
_SECRET_PATTERN = re.compile(
    r"""(?P<key>password|passphrase|passwd|secret|token|api_key|access_key)(?P<sep>["']?\s*[:=]\s*["']?)(?P<value>[^\s"',}]+)""",
    re.IGNORECASE,
)

log = logging.getLogger(__name__)


def config_dir() -> Path:
    """Return the per-user config folder (profiles, known hosts); not created here."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Return the per-user cache folder (the demo workspace lives here); not created here."""
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    """Return the per-user log folder; not created here."""
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


class SecretFilter(logging.Filter):
    """Replace the value of password-, passphrase-, token- and key-like pairs with ``***``.

    A safety net only: code must still never pass a secret to a logger.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_PATTERN.sub(lambda m: f"{m.group('key')}{m.group('sep')}***", message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


def setup_logging(verbose: bool, log_to_file: bool = True) -> None:
    """Install ppdesk's handlers on the root logger, replacing ones from an earlier call.

    stderr gets DEBUG and above with ``verbose``, else WARNING and above.
    With ``log_to_file`` a rotating file (1 MB, 3 backups) in :func:`log_dir`
    gets INFO and above (DEBUG with ``verbose``). A log folder that cannot
    be created is reported on stderr and the file is left out.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(logging.DEBUG)
    secret_filter = SecretFilter()

    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    _install(root, console, secret_filter)

    if log_to_file:
        path = log_dir() / LOG_FILE_NAME
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            file_handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
            )
        except OSError as exc:
            log.warning("cannot write the log file %s: %s; logging to stderr only", path, exc)
        else:
            file_handler.setLevel(logging.DEBUG if verbose else logging.INFO)
            file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
            _install(root, file_handler, secret_filter)

    # paramiko's DEBUG lines (key exchange, channel events) would drown ppdesk's own.
    logging.getLogger("paramiko").setLevel(logging.DEBUG if verbose else logging.WARNING)


def _install(root: logging.Logger, handler: logging.Handler, secret_filter: logging.Filter) -> None:
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(secret_filter)
    root.addHandler(handler)
