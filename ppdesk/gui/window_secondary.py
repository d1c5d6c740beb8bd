"""The main window's secondary windows: image viewer, sample fetching, compare and output browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

from PySide6.QtCore import QEvent, QObject, Slot
from PySide6.QtWidgets import QWidget

from ppdesk.gui.banner import CAUSE_CONNECTION
from ppdesk.gui.placement import place_near
from ppdesk.gui.window_runs import grid_files

# The Qt property on a secondary window that names its geometry key in WindowState.
GEOMETRY_KEY_PROPERTY = "ppdeskGeometryKey"


class SecondaryWindowsMixin:
    """The viewer, compare and output browser windows of :class:`MainWindow`, created on first use.

    A mixin for :class:`~ppdesk.gui.main_window.MainWindow` only: it uses
    the window's state, worker pool, banner and connection. Each window
    reopens with its remembered geometry.
    """

    def _open_in_viewer(self, paths: List[Path]) -> None:
        viewer = self.image_viewer()
        viewer.open_images(paths)
        viewer.show()
        viewer.raise_()

    def image_viewer(self) -> Any:
        """Return the image viewer window, creating it (hidden) on first use.

        A click on a grid cell opens the sample through :meth:`open_sample`,
        and the viewer's "Compare with..." goes to :meth:`open_compare`.
        """
        from ppdesk.gui.viewer import ImageViewerWindow

        if self._viewer is None:
            self._viewer = ImageViewerWindow(sample_opener=self.open_sample, compare_opener=self.open_compare)
            self._viewer.setWindowIcon(self.windowIcon())
            self._prepare_window(self._viewer, "viewer")
        return self._viewer

    def open_sample(self, cell: Any) -> None:
        """Show a grid cell's sample in the viewer, fetched from the pod in a worker when needed.

        A workspace on this machine is read in place. Other samples land in
        ``<destination>/<config>/samples/``; errors appear in the viewer's
        status bar.
        """
        from ppdesk.gui.sample_fetch import sample_cache_dir

        viewer = self.image_viewer()
        sidecar = viewer.overlay.sidecar
        if sidecar is None:
            return
        fetcher = self.sample_fetcher()
        cache = sample_cache_dir(sidecar, self.destination)
        if fetcher.fetch(cell, cache):
            step = "the base model" if cell.step is None else f"step {cell.step}"
            viewer.statusBar().showMessage(f"Opening the {cell.shortname or 'cell'} sample of {step}...")

    def sample_fetcher(self) -> Any:
        """Return the SampleFetcher behind :meth:`open_sample`, creating it on first use.

        It reads a sample in place when the workspace is on this machine
        (LocalTransport, or no connection) and fetches it otherwise.
        """
        from ppdesk.gui.sample_fetch import SampleFetcher
        from ppdesk.remote.local import LocalTransport

        if self._sample_fetcher is None:
            self._sample_fetcher = SampleFetcher(
                self.pool,
                transport=lambda: self._transport,
                read_in_place=lambda: self._transport is None or isinstance(self._transport, LocalTransport),
                parent=self,
            )
            self._sample_fetcher.fetched.connect(self._on_sample_fetched)
            self._sample_fetcher.failed.connect(self._on_sample_failed)
        return self._sample_fetcher

    @Slot(object, object)
    def _on_sample_fetched(self, _cell: Any, sample: Any) -> None:
        if self._viewer is None or self._closing:
            return
        self._viewer.show_sample(sample.path)
        if sample.note:
            self._viewer.statusBar().showMessage(sample.note)

    @Slot(object, str)
    def _on_sample_failed(self, cell: Any, message: str) -> None:
        if self._viewer is None or self._closing:
            return
        self._viewer.statusBar().showMessage(f"Cannot open the sample {cell.source}: {message}")

    def open_compare(self, path: Optional[Path] = None) -> None:
        """Open the compare window on ``path`` (default: the viewer's image, else the newest grid).

        Its choosers offer every grid of this session's runs and the images in
        the viewer. The right side starts on the best partner, e.g. the same
        grid of a sibling config after a family run.
        """
        from ppdesk.gui.compare import CompareWindow

        candidates = list(self.grid_history)
        if self._viewer is not None:
            candidates += [p for p in self._viewer.paths() if p not in candidates]
            if path is None:
                path = self._viewer.current_path()
        if path is None and candidates:
            path = candidates[0]
        if path is None:
            self.banner.show_message("Nothing to compare yet: run the validation or dataset grid first.", error=False)
            return

        if self._compare is None:
            self._compare = CompareWindow()
            self._compare.setWindowIcon(self.windowIcon())
            self._prepare_window(self._compare, "compare")
        self._compare.compare(Path(path), candidates)
        self._compare.show()
        self._compare.raise_()

    @Slot()
    def open_image_viewer(self) -> None:
        """Show the viewer with the grids of the last run, or empty."""
        self._open_in_viewer(grid_files(self.results.run_results()))

    @Slot()
    def open_output_browser(self) -> None:
        """Show the scanned configs' outputs; its "Download selected" runs Download output on them."""
        from ppdesk.gui.output_browser import OutputBrowser

        if self._browser is None:
            self._browser = OutputBrowser()
            self._browser.setWindowTitle("ppdesk: outputs")
            self._browser.setWindowIcon(self.windowIcon())
            self._browser.resize(900, 520)
            self._browser.download_requested.connect(self._on_download_requested)
            self._prepare_window(self._browser, "browser")
        self._browser.set_entries(self._scan.configs if self._scan is not None else [])
        self._browser.show()
        self._browser.raise_()

    @Slot(list)
    def _on_download_requested(self, names: List[str]) -> None:
        if self._scan is None:
            self.banner.show_message("Connect to a workspace before downloading outputs.", cause=CAUSE_CONNECTION)
            return
        configs = [entry for entry in self._scan.configs if entry.name in set(names)]
        self.run_tools(["do"], configs=configs)

    def _prepare_window(self, window: QWidget, name: str) -> None:
        """Give a new secondary window its remembered geometry, else a place beside this window.

        ``name`` is the key of the geometry in the window state; the geometry
        is saved again when the window closes and by :meth:`save_state`.
        """
        window.setObjectName(window.objectName() or f"{name}Window")
        window.setProperty(GEOMETRY_KEY_PROPERTY, name)
        geometry = self.state.window_geometry(name)
        if geometry is None or not window.restoreGeometry(geometry):
            place_near(window, self)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Save a secondary window's geometry when it closes."""
        if event.type() == QEvent.Type.Close and isinstance(watched, QWidget):
            self._save_window_geometry(watched)
        return super().eventFilter(watched, event)

    def _save_window_geometry(self, window: QWidget) -> None:
        name = window.property(GEOMETRY_KEY_PROPERTY)
        if isinstance(name, str) and name and window.isVisible():
            self.state.set_window_geometry(name, window.saveGeometry())
