"""Running the core agent on a pod: bundle upload, agent commands, one process per request.

The command line sent to the pod contains only interpreter paths, the
bundle's path or file name, the workspace cache folder and a fixed
``/bin/sh`` script, each quoted with ``shlex.quote``. The paths come from
the profile and the layout. Config names and every other argument travel
in the JSON request on stdin. The interpreter is chosen in
ppdesk/remote/agent_start.py, and the command that finds the bundle in the
pod's cache is built in ppdesk/remote/bundle_cache.py.
"""

from __future__ import annotations

import logging
import posixpath
import stat
import uuid
from typing import TYPE_CHECKING, Any, Optional

import paramiko

from .agent_client import AgentProcess, run_agent_streams

if TYPE_CHECKING:
    from ppdesk.cancel import CancelToken
    from ppdesk.core.layout import WorkspaceLayout

    from .bundle import Bundle
    from .transport import AgentEventCallback

log = logging.getLogger(__name__)

# Seconds to wait for the server to open a session channel.
CHANNEL_OPEN_TIMEOUT = 30.0
_UPLOAD_BLOCK = 1024 * 1024


def bundle_path(bundle: "Bundle", cache_dir: str) -> str:
    """Return the bundle's path on the pod: ``<cache_dir>/<bundle.filename>``."""
    return posixpath.join(cache_dir, bundle.filename)


def upload_bundle(
    sftp: paramiko.SFTPClient, bundle: "Bundle", cache_dir: str, create_below: Optional[str] = None
) -> bool:
    """Upload the bundle to :func:`bundle_path` unless it is there; return True when it was uploaded.

    A file of the right size is taken as present, because the name carries
    the content hash. Otherwise the bytes go to a temporary name first and
    are renamed into place, so an interrupted upload never leaves a partial
    bundle under the final name. Missing folders are created with mode 700,
    only below ``create_below``, which must exist: the default is the parent
    of ``cache_dir``, so that only ``cache_dir`` itself may be created.
    Raises FileNotFoundError when ``create_below`` is missing,
    NotADirectoryError when a file is in the way, and the SFTP errors
    (OSError, SSHException).
    """
    target = bundle_path(bundle, cache_dir)
    try:
        if sftp.stat(target).st_size == len(bundle.data):
            log.debug("bundle %s is already on the pod", target)
            return False
    except FileNotFoundError:
        pass

    _make_folders(sftp, cache_dir, create_below or posixpath.dirname(cache_dir))
    temp = f"{target}.{uuid.uuid4().hex}.tmp"
    with sftp.open(temp, "wb") as handle:
        handle.set_pipelined(True)
        for start in range(0, len(bundle.data), _UPLOAD_BLOCK):
            handle.write(bundle.data[start : start + _UPLOAD_BLOCK])
    try:
        sftp.posix_rename(temp, target)
    except OSError:
        sftp.remove(temp)
        raise
    log.info("uploaded %s (%d bytes)", target, len(bundle.data))
    return True


def _make_folders(sftp: paramiko.SFTPClient, folder: str, create_below: str) -> None:
    """Create ``folder`` and its missing parents below ``create_below``, top down."""
    folder = posixpath.normpath(folder)
    create_below = posixpath.normpath(create_below)
    relative = posixpath.relpath(folder, create_below)
    if relative == "." or relative.startswith(".."):
        raise ValueError(f"{folder} is not inside {create_below}")

    if not _folder_exists(sftp, create_below):
        raise FileNotFoundError(f"{create_below} does not exist on the pod")
    current = create_below
    for name in relative.split("/"):
        current = posixpath.join(current, name)
        if _folder_exists(sftp, current):
            continue
        try:
            sftp.mkdir(current, 0o700)
        except OSError:
            # Another connection may have created it meanwhile.
            if not _folder_exists(sftp, current):
                raise


def _folder_exists(sftp: paramiko.SFTPClient, path: str) -> bool:
    """Return whether ``path`` is a folder; raise NotADirectoryError when it is another kind of file."""
    try:
        mode = sftp.stat(path).st_mode
    except FileNotFoundError:
        return False
    if mode is not None and not stat.S_ISDIR(mode):
        raise NotADirectoryError(f"{path} on the pod is a file, not a folder")
    return True


def venv_python_path(layout: "WorkspaceLayout") -> str:
    """Return the path of SimpleTuner's venv Python on the pod."""
    return posixpath.join(layout.simpletuner, ".venv", "bin", "python")


def path_exists(sftp: paramiko.SFTPClient, path: str) -> bool:
    """Return whether ``path`` exists on the pod, following symlinks, as ``[ -e path ]`` in sh decides.

    A path that cannot be looked at (no permission) counts as absent, as in
    sh. SFTP errors of the link propagate.
    """
    try:
        sftp.stat(path)
    except (FileNotFoundError, PermissionError):
        return False
    return True


def run_on_channel(
    transport: paramiko.Transport,
    command: str,
    request: bytes,
    on_event: Optional["AgentEventCallback"],
    cancel: Optional["CancelToken"],
    label: str,
) -> Any:
    """Run ``command`` in a new session channel as one agent process; see run_agent_streams.

    Raises SSHException when the channel cannot be opened; the caller maps it.
    """
    channel = transport.open_session(timeout=CHANNEL_OPEN_TIMEOUT)
    try:
        channel.exec_command(command)
        process = AgentProcess(
            stdin=channel.makefile_stdin("wb"),
            stdout=channel.makefile("rb"),
            stderr=channel.makefile_stderr("rb"),
            kill=channel.close,
            wait=lambda timeout: _exit_status(channel, timeout),
        )
        return run_agent_streams(process, request, on_event, cancel, label)
    finally:
        channel.close()


def _exit_status(channel: paramiko.Channel, timeout: float) -> Optional[int]:
    if channel.status_event.wait(timeout):
        return channel.recv_exit_status()
    return None
