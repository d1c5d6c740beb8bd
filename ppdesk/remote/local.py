"""A transport to a workspace folder on this machine.

The agent runs as ``python -m ppdesk.core`` in a subprocess, exactly as it
would on a pod, so tools behave the same locally and remotely. Files are read
straight from disk.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Dict, Optional

from ppdesk.core.layout import WorkspaceLayout
from ppdesk.remote.agent_client import build_request, run_agent_subprocess
from ppdesk.remote.errors import RemoteFileError
from ppdesk.remote.transport import AgentEventCallback, BytesCallback, RemoteStat, Transport

if TYPE_CHECKING:
    from ppdesk.cancel import CancelToken

log = logging.getLogger(__name__)

# Bytes read from disk per fetch chunk; the cancel token is checked per chunk.
FETCH_CHUNK = 1024 * 1024
# The folder that contains the ppdesk package; the agent subprocess imports from it.
PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


class LocalTransport(Transport):
    """A workspace on this machine; thread-safe, with nothing to open or close."""

    def __init__(self, layout: WorkspaceLayout, python: str = sys.executable) -> None:
        self.layout = layout
        self.python = python

    @classmethod
    def for_root(cls, root: "str | os.PathLike[str]", python: str = sys.executable) -> "LocalTransport":
        """Build a transport with the default layout below the absolute form of ``root``."""
        return cls(WorkspaceLayout.from_root(os.path.abspath(os.fspath(root))), python)

    def describe(self) -> str:
        return f"local:{self.layout.root}"

    def connect(self) -> None:
        log.debug("local transport %s needs no connection", self.layout.root)

    def close(self) -> None:
        pass

    def run_agent(
        self,
        op: str,
        args: Optional[Dict[str, Any]] = None,
        on_event: Optional[AgentEventCallback] = None,
        cancel: Optional["CancelToken"] = None,
    ) -> Any:
        """Run ``op`` in a ``python -m ppdesk.core`` subprocess; see Transport.run_agent."""
        # In a PyInstaller build sys.executable is the ppdesk program, and its
        # launcher script runs the agent when given ``-m ppdesk.core``.
        env = dict(os.environ)
        existing = env.get("PYTHONPATH")
        env["PYTHONPATH"] = PACKAGE_PARENT + (os.pathsep + existing if existing else "")
        argv = [self.python, "-m", "ppdesk.core"]
        log.debug("running agent op %s on %s", op, self.describe())
        request = build_request(op, self.layout, args)
        return run_agent_subprocess(argv, request, on_event, cancel, cwd=PACKAGE_PARENT, env=env)

    def stat(self, path: str) -> RemoteStat:
        """Return size and mtime of a local file; raise RemoteFileError when it cannot be read."""
        try:
            st = os.stat(path)
        except OSError as exc:
            raise RemoteFileError(f"cannot stat {path}: {exc.strerror or exc}") from exc
        return RemoteStat(size=st.st_size, mtime=st.st_mtime)

    def fetch(
        self,
        path: str,
        dest: BinaryIO,
        offset: int = 0,
        length: Optional[int] = None,
        on_bytes: Optional[BytesCallback] = None,
        cancel: Optional["CancelToken"] = None,
    ) -> int:
        """Copy bytes of a local file into ``dest``; see Transport.fetch.

        Stops early at the end of the file, so the count may be less than
        ``length``. Write errors on ``dest`` propagate as OSError.
        """
        try:
            source = open(path, "rb")
        except OSError as exc:
            raise RemoteFileError(f"cannot open {path}: {exc.strerror or exc}") from exc

        copied = 0
        with source:
            source.seek(offset)
            while length is None or copied < length:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                size = FETCH_CHUNK if length is None else min(FETCH_CHUNK, length - copied)
                chunk = self._read(source, path, size)
                if not chunk:
                    break
                dest.write(chunk)
                copied += len(chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
        return copied

    @staticmethod
    def _read(source: BinaryIO, path: str, size: int) -> bytes:
        try:
            return source.read(size)
        except OSError as exc:
            raise RemoteFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
