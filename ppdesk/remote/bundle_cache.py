"""Where the agent bundle is kept on a pod, and the command that finds and runs it there.

The bundle goes to the pod user's cache folder: ``$XDG_CACHE_HOME/ppdesk/agent``
when XDG_CACHE_HOME is an absolute path, else ``$HOME/.cache/ppdesk/agent``.
The pod's ``/bin/sh`` resolves that folder each time it starts the agent, so
the client never guesses the pod's home folder. When that folder cannot be
written, the workspace's cache folder (``<root>/.ppdesk``) is used instead,
but only when ``<root>/SimpleTuner`` exists, so a mistyped workspace root is
never created.

The start command runs the bundle from the first of the two folders that
contains it. When neither does, the script exits with BUNDLE_MISSING_STATUS and
writes the user cache folder's base on stderr; the client then uploads the
bundle over SFTP and starts the agent again.
"""

from __future__ import annotations

import logging
import posixpath
import shlex
import socket
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional

import paramiko

from .errors import AgentError
from .pod_agent import upload_bundle

if TYPE_CHECKING:
    from ppdesk.core.layout import WorkspaceLayout

    from .bundle import Bundle

log = logging.getLogger(__name__)

# The bundle's folder below the user cache folder ($XDG_CACHE_HOME or ~/.cache).
CACHE_SUBFOLDER = "ppdesk/agent"
# Exit status of the start script when no cache folder contains the bundle.
# Neither a POSIX shell (126, 127) nor Python (1, 2) ends a failed start with it.
BUNDLE_MISSING_STATUS = 75
# The start of the stderr line with which the start script reports the
# user cache folder's base, after one space. The stderr reader drops
# trailing spaces, so an empty value arrives without that space.
_CACHE_HOME_LINE = "ppdesk-agent-cache-home:"
# Positional parameters: $1 SimpleTuner's venv Python or "" (not tried), $2
# the interpreter used otherwise, $3 the bundle's file name, $4 the
# workspace cache folder. They are arguments of sh, never parsed as shell syntax.
# One line, so that csh or fish as the login shell can pass it on too.
_START_SCRIPT = " ".join(
    (
        "case $XDG_CACHE_HOME in /*) base=$XDG_CACHE_HOME ;;",
        "*) case $HOME in /?*) base=$HOME/.cache ;; *) base= ;; esac ;;",
        "esac;",
        f'for bundle in "${{base:+$base/{CACHE_SUBFOLDER}/$3}}" "$4/$3"; do',
        'if [ -n "$bundle" ] && [ -f "$bundle" ]; then',
        'if [ -n "$1" ] && [ -e "$1" ]; then exec "$1" "$bundle"; fi;',
        'exec "$2" "$bundle";',
        "fi;",
        "done;",
        f"printf '{_CACHE_HOME_LINE} %s\\n' \"$base\" >&2;",
        f"exit {BUNDLE_MISSING_STATUS}",
    )
)
# Errors of the link itself. They are OSErrors too, but not about a folder.
_LINK_OS_ERRORS = (socket.timeout, ConnectionError)


@dataclass(frozen=True)
class MissingBundle:
    """A start that found the bundle in no cache folder, with the user cache folder's base it reported.

    ``cache_home`` is the pod's ``$XDG_CACHE_HOME`` or ``$HOME/.cache``, or
    None when the pod user has neither as an absolute path.
    """

    cache_home: Optional[str]

    @property
    def folder(self) -> Optional[str]:
        """The user cache folder of the bundle on the pod, or None."""
        if self.cache_home is None:
            return None
        return posixpath.join(posixpath.normpath(self.cache_home), CACHE_SUBFOLDER)


def start_command(interpreter: str, venv_python: Optional[str], bundle_name: str, workspace_cache: str) -> str:
    """Return the shell command that runs the cached bundle ``bundle_name`` as the agent.

    The command runs the bundle with ``venv_python`` when that is given and
    exists on the pod, else with ``interpreter``, which may be a name in the
    PATH. ``/bin/sh`` is named by its path, because the login shell may be
    any shell and the PATH may be empty. Every word is quoted with
    ``shlex.quote``.
    """
    words = ["/bin/sh", "-c", _START_SCRIPT, "sh", venv_python or "", interpreter, bundle_name, workspace_cache]
    return " ".join(shlex.quote(word) for word in words)


def missing_bundle(exit_status: Optional[int], stderr_lines: str) -> Optional[MissingBundle]:
    """Return the report of a start that found no bundle, or None when the start failed otherwise.

    ``stderr_lines`` is the tail of the process's stderr. A cache folder
    name that did not decode as UTF-8 counts as no cache folder, because it
    cannot be named over SFTP as it arrived.
    """
    if exit_status != BUNDLE_MISSING_STATUS:
        return None
    for line in reversed(stderr_lines.splitlines()):
        if line.startswith(_CACHE_HOME_LINE):
            value = line[len(_CACHE_HOME_LINE) + 1 :]
            if not value.startswith("/") or "\ufffd" in value:
                return MissingBundle(None)
            return MissingBundle(value)
    return None


def upload_to_cache(
    sftp: paramiko.SFTPClient, bundle: "Bundle", missing: MissingBundle, layout: "WorkspaceLayout"
) -> str:
    """Upload ``bundle`` to the user cache folder, else to the workspace cache folder; return the folder used.

    The user cache folder and its missing parents are created with mode
    700, up to the base (``$HOME/.cache`` or ``$XDG_CACHE_HOME``) but never
    the folder that contains the base. The workspace cache folder is used
    only when ``layout.simpletuner`` exists, and only the cache folder
    itself is created there. Raises AgentError("upload_failed") naming both
    folders and why neither could be used. Errors of the link (EOFError,
    SSHException, socket errors) propagate.
    """
    problems: List[str] = []
    folder = missing.folder
    if folder is None:
        problems.append("the pod user has no home folder ($HOME is not an absolute path)")
    else:
        assert missing.cache_home is not None
        try:
            upload_bundle(sftp, bundle, folder, create_below=posixpath.dirname(posixpath.normpath(missing.cache_home)))
            return folder
        except _LINK_OS_ERRORS:
            raise
        except OSError as exc:
            log.warning("cannot store the agent bundle in %s on the pod: %s", folder, exc)
            problems.append(f"{folder}: {exc.strerror or exc}")

    if not _is_folder(sftp, layout.simpletuner):
        problems.append(f"{layout.cache_dir} is not used, because {layout.simpletuner} does not exist")
    else:
        try:
            upload_bundle(sftp, bundle, layout.cache_dir)
            return layout.cache_dir
        except _LINK_OS_ERRORS:
            raise
        except OSError as exc:
            log.warning("cannot store the agent bundle in %s on the pod: %s", layout.cache_dir, exc)
            problems.append(f"{layout.cache_dir}: {exc.strerror or exc}")

    raise AgentError(
        "upload_failed",
        "cannot store the agent bundle on the pod: " + "; ".join(problems)
        + ". Make the pod user's home folder writable, or set the workspace root to the folder that contains SimpleTuner",
    )


def _is_folder(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        mode = sftp.stat(path).st_mode
    except (FileNotFoundError, PermissionError):
        return False
    return mode is not None and stat.S_ISDIR(mode)
