"""Open a validation grid cell's sample at full resolution, fetching it from the pod when needed.

A grid's sidecar names each cell's sample relative to the workspace, so
:class:`SampleFetcher` joins it to the root of the workspace the app is
connected to (an older sidecar's absolute path is used as it is). It does
that in a worker: a workspace on this machine is read in place, and any
other transport's file is downloaded with the transfer engine into a cache
folder (``<dest>/<config>/samples/``). So a click on a cell never blocks the
GUI thread, and a second click on the same cell reuses the cached copy.
"""

from __future__ import annotations

import logging
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from PySide6.QtCore import QObject, Signal, Slot

from ppdesk.gui.workers import WorkerPool
from ppdesk.transfer.engine import download
from ppdesk.transfer.plan import PlannedFile
from ppdesk.transfer.report import FileStatus

if TYPE_CHECKING:
    from ppdesk.cancel import CancelToken
    from ppdesk.gui.viewer.sidecar import GridCell, GridSidecar
    from ppdesk.remote.transport import Transport

log = logging.getLogger(__name__)

SAMPLES_FOLDER = "samples"


@dataclass(frozen=True)
class FetchedSample:
    """A sample ready to open: its local ``path`` and a ``note`` for the status bar ("" when none)."""

    path: Path
    note: str = ""


def sample_cache_dir(sidecar: "GridSidecar", destination: str) -> Path:
    """Return the folder that receives fetched samples of the grid ``sidecar`` describes.

    With a destination and a config name it is ``<destination>/<config>/samples``,
    beside the ``grids`` folder the grid tools write. Otherwise it is a
    ``samples`` folder next to the grid's own folder.
    """
    if destination and sidecar.config:
        return Path(destination).expanduser().joinpath(*sidecar.config.split("/"), SAMPLES_FOLDER)
    grid_folder = sidecar.path.parent
    if grid_folder.name == "grids":
        return grid_folder.parent / SAMPLES_FOLDER
    return grid_folder / SAMPLES_FOLDER


def resolve_sample(
    source: str,
    transport: Optional["Transport"],
    cache_dir: Path,
    read_in_place: bool,
    token: Optional["CancelToken"] = None,
) -> FetchedSample:
    """Return a local copy of the sample ``source``; runs on a worker thread.

    With ``read_in_place`` (the transport's files are this machine's files) an
    existing ``source`` is returned as it is. Otherwise the file is stat'ed
    through ``transport`` and downloaded into ``cache_dir`` under its file
    name. An identical cached copy is reused; a different one is kept and
    opened with a note, because nothing is overwritten silently.

    Raises ValueError with a readable message when there is no transport or
    the download fails, TransportError when the pod cannot be reached, and
    Cancelled when ``token`` is set.
    """
    if read_in_place and os.path.isfile(source):
        return FetchedSample(Path(source))
    if transport is None:
        raise ValueError(f"the sample {source} is not on this machine; connect to the workspace the grid came from")

    remote = transport.stat(source)
    name = posixpath.basename(source)
    planned = PlannedFile(remote_path=source, rel_path=name, size=remote.size, mtime=remote.mtime)
    report = download(transport, [planned], cache_dir, jobs=1, cancel=token)

    outcome = report.outcomes[0]
    local = cache_dir / name
    if outcome.status in (FileStatus.DOWNLOADED, FileStatus.SKIPPED):
        return FetchedSample(local)
    if outcome.status is FileStatus.CONFLICT:
        note = f"{local} differs from the pod's {source} and was kept; delete it to fetch the sample again"
        return FetchedSample(local, note)
    raise ValueError(f"fetching the sample {source} into {cache_dir} failed: {outcome.message or outcome.status.value}")


def resolve_cell_sample(
    cell: "GridCell",
    transport: Optional["Transport"],
    cache_dir: Path,
    read_in_place: bool,
    token: Optional["CancelToken"] = None,
) -> FetchedSample:
    """Return a local copy of ``cell``'s sample; runs on a worker thread.

    A source stored relative to the workspace is first joined to the root
    of ``transport``'s workspace. The rest, errors included, is as in
    :func:`resolve_sample`. A relative source without a transport raises
    ValueError.
    """
    root = transport.layout.root if transport is not None else None
    return resolve_sample(cell.sample_path(root), transport, cache_dir, read_in_place, token)


class SampleFetcher(QObject):
    """Resolve grid cells' samples in workers of ``pool``; create and use it on the GUI thread.

    The callables ``transport`` and ``read_in_place`` are asked at each
    fetch: the transport to fetch through (None when not connected), and
    whether that transport reads this machine's files. Signals: ``fetched(GridCell, FetchedSample)`` and
    ``failed(GridCell, str)`` with a readable message.
    """

    fetched = Signal(object, object)
    failed = Signal(object, str)

    def __init__(
        self,
        pool: WorkerPool,
        transport: Callable[[], Optional["Transport"]],
        read_in_place: Callable[[], bool],
        parent: Optional[QObject] = None,
    ) -> None:
        super().__init__(parent)
        self.pool = pool
        self.transport = transport
        self.read_in_place = read_in_place
        self._running: Dict[Tuple[Optional[str], str], Any] = {}

    def fetch(self, cell: "GridCell", cache_dir: Path) -> bool:
        """Start resolving ``cell``'s sample; return False when the same sample is already on its way."""
        source = cell.source
        if not source:
            self.failed.emit(cell, "this cell has no sample file")
            return True
        # Relative sources of two configs' grids can be equal, so the output folder is part of the key.
        key = (cell.output, source)
        if key in self._running:
            return False

        transport = self.transport()
        in_place = self.read_in_place()
        log.info("opening sample %s (cache %s)", source, cache_dir)
        worker = self.pool.start(
            lambda token, _report: resolve_cell_sample(cell, transport, cache_dir, in_place, token),
            name=f"fetch sample {posixpath.basename(source)}",
        )
        self._running[key] = worker
        worker.signals.result.connect(lambda sample, c=cell: self.fetched.emit(c, sample))
        worker.signals.error.connect(lambda message, c=cell: self._on_error(c, message))
        worker.signals.finished.connect(lambda k=key: self._running.pop(k, None))
        return True

    def busy(self) -> bool:
        """Return whether a sample is still being resolved."""
        return bool(self._running)

    def cancel_all(self) -> None:
        for worker in self._running.values():
            worker.cancel()

    @Slot(object, str)
    def _on_error(self, cell: "GridCell", message: str) -> None:
        log.warning("opening sample %s failed: %s", cell.source, message)
        self.failed.emit(cell, message)
