"""Workspace connection handling of the main window: connect, scan, profiles, local folders.

Each connect or rescan request carries a generation number, and a scan
result whose generation is no longer current is dropped, so switching
workspaces while a scan runs never shows stale configs.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, List, Optional

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QFileDialog

from ppdesk.gui.banner import CAUSE_CONNECTION, CAUSE_RUN
from ppdesk.gui.hostkey_dialog import ChangedHostKeyDialog
from ppdesk.tools.common import plural

if TYPE_CHECKING:
    from ppdesk.remote.profiles import Profile
    from ppdesk.remote.transport import Transport
    from ppdesk.tools.workspace import WorkspaceScan

log = logging.getLogger(__name__)

PROFILE_ENTRY = "profile"
LOCAL_ENTRY = "local"
TRANSPORT_ENTRY = "transport"


@dataclass
class Connection:
    """An entry of the workspace combo: a saved profile, a local folder or a given transport."""

    kind: str
    label: str
    profile: Optional["Profile"] = None
    folder: Optional[str] = None
    transport: Optional["Transport"] = None

    def workspace_key(self) -> str:
        """Return an id of the workspace this entry opens; equal ids mean the same workspace.

        A local folder gets ``local:<absolute path>`` whether it was opened
        as a folder or passed in as a LocalTransport (``ppdesk --demo``), so
        both ways of opening the demo workspace share results and the
        remembered selection.
        """
        if self.kind == LOCAL_ENTRY and self.folder:
            return f"{LOCAL_ENTRY}:{os.path.abspath(self.folder)}"
        if self.kind == TRANSPORT_ENTRY and self.transport is not None:
            return self.transport.describe()
        return f"{self.kind}:{self.label}"


class WindowConnectionMixin:
    """The workspace combo, connecting, scanning and the saved profiles of :class:`MainWindow`.

    A mixin for :class:`~ppdesk.gui.main_window.MainWindow` only: it uses
    the window's widgets, worker pool, state and signals. Connecting and
    scanning run in workers, and the slots run on the GUI thread.
    """

    def add_transport(self, transport: "Transport", label: Optional[str] = None) -> None:
        """Add an already built transport to the workspace combo and connect to it."""
        entry = Connection(TRANSPORT_ENTRY, label or transport.describe(), transport=transport)
        self._insert_entry(entry)
        self.connect_to(entry)

    def open_local_workspace(self, folder: Path) -> None:
        """Connect to a workspace folder on this machine."""
        entry = Connection(LOCAL_ENTRY, f"Local: {folder}", folder=str(folder))
        self._insert_entry(entry)
        self.connect_to(entry)

    @Slot()
    def connect_selected(self) -> None:
        entry = self.connection_combo.currentData()
        if isinstance(entry, Connection):
            self.connect_to(entry)
        else:
            self.open_connection_dialog()

    def connect_to(self, entry: Connection) -> None:
        """Open ``entry``'s transport and scan it, both in a worker."""
        if self._run_worker is not None:
            self.banner.show_message(
                "A run is in progress; cancel it before connecting to another workspace.", cause=CAUSE_RUN
            )
            return
        try:
            transport = self._build_transport(entry)
        except ValueError as exc:
            self.banner.show_message(f"Cannot connect to {entry.label}: {exc}")
            return

        self._drop_connection()
        self._transport = transport
        self._connection = entry
        if self._results_workspace is not None and self._results_workspace != entry.workspace_key():
            log.debug("clearing the results of %s", self._results_workspace)
            self.results.clear_results()
            self._results_workspace = None
        if entry.kind == PROFILE_ENTRY:
            self.state.last_profile = entry.label
        self.banner.hide()
        self._set_status("connecting", f"connecting to {entry.label}...")
        log.info("connecting to %s", transport.describe())
        self._start_scan(connect=True)

    @Slot()
    def disconnect_workspace(self) -> None:
        if self._run_worker is not None:
            self.banner.show_message("A run is in progress; cancel it before disconnecting.", cause=CAUSE_RUN)
            return
        self._drop_connection()
        self.selection.set_scan(None)
        self._set_status("disconnected", "not connected")
        self._update_enabled()

    @Slot()
    def rescan(self) -> None:
        """Scan the connected workspace again, keeping the selection when it still exists."""
        if self._transport is None or self._run_worker is not None:
            return
        self._set_status("connecting", f"scanning {self._connection.label if self._connection else ''}...")
        self._start_scan(connect=False)

    def _start_scan(self, connect: bool) -> None:
        from ppdesk.tools.workspace import scan_workspace

        if self._scan_worker is not None:
            self._scan_worker.cancel()
        self._generation += 1
        transport = self._transport
        assert transport is not None

        def job(token: Any, _report: Callable[[Any], None]) -> "WorkspaceScan":
            if connect:
                transport.connect()
            return scan_workspace(transport, token)

        worker = self.pool.start(job, name=f"scan {transport.describe()}", tag=self._generation)
        worker.signals.result.connect(self._on_scan_result)
        worker.signals.error.connect(self._on_scan_error)
        worker.signals.finished.connect(self._on_scan_finished)
        self._scan_worker = worker
        self._update_enabled()

    @Slot(object)
    def _on_scan_result(self, scan: "WorkspaceScan") -> None:
        if not self._is_current(self.sender()):
            log.debug("dropped the result of an outdated scan")
            return
        self._scan = scan
        # The remembered selection, not the combos: after a disconnect or a
        # failed connect they are empty, and after another workspace they
        # show that workspace's choice.
        family, config = self.state.selection_for(self._workspace_key())
        self.selection.set_scan(scan, (family, config or None) if family else None)
        label = self._connection.label if self._connection else "workspace"
        summary = describe_scan(scan)
        self._set_status("connected", f"{label}: {summary}")
        self.statusBar().showMessage(f"Scanned {label}: {summary}", 10000)
        for error in scan.errors:
            log.warning("workspace %s: %s", label, error)
        if scan.errors:
            self.banner.show_message("; ".join(scan.errors), error=True, cause=CAUSE_CONNECTION)
        else:
            self.banner.resolve(CAUSE_CONNECTION)
        self.scanFinished.emit(scan)

    @Slot(str)
    def _on_scan_error(self, message: str) -> None:
        if not self._is_current(self.sender()):
            return
        worker = self._scan_worker
        label = self._connection.label if self._connection else "workspace"
        self._set_status("failed", f"{label}: connection failed")
        self.banner.show_message(f"Cannot open {label}: {message}", cause=CAUSE_CONNECTION)
        self._offer_host_key_replacement(worker.exception if worker else None, self._connection)
        self._drop_connection(keep_entry=True)
        self.selection.set_scan(None)
        self.scanFailed.emit(message)

    @Slot()
    def _on_scan_finished(self) -> None:
        if self._scan_worker is not None and self._scan_worker.signals is self.sender():
            self._scan_worker = None
        self._update_enabled()

    def _is_current(self, signals: Any) -> bool:
        worker = self._scan_worker
        return worker is not None and worker.signals is signals and worker.tag == self._generation

    def _drop_connection(self, keep_entry: bool = True) -> None:
        """Forget the transport and close it in a worker; pending scans become stale."""
        self._generation += 1
        if self._scan_worker is not None:
            self._scan_worker.cancel()
        transport, self._transport = self._transport, None
        self._scan = None
        if transport is not None and not self._closing:
            self.pool.start(lambda _token, _report: transport.close(), name=f"close {transport.describe()}")
        if not keep_entry:
            self._connection = None

    def _build_transport(self, entry: Connection) -> "Transport":
        if entry.kind == TRANSPORT_ENTRY and entry.transport is not None:
            return entry.transport
        if entry.kind == LOCAL_ENTRY and entry.folder:
            from ppdesk.remote.local import LocalTransport

            return LocalTransport.for_root(entry.folder)
        if entry.kind == PROFILE_ENTRY and entry.profile is not None:
            return self._ssh_transport(entry.profile)
        raise ValueError("the entry has no workspace; choose a profile or open a folder")

    def _ssh_transport(self, profile: "Profile") -> "Transport":
        try:
            from ppdesk.remote.ssh import SshTransport
            from ppdesk.remote.ssh_auth import SshPrompts
        except ImportError as exc:
            raise ValueError(f"SSH support is not available ({exc}); install paramiko in ppdesk's Python") from exc
        prompts = SshPrompts(
            ask_passphrase=self.prompter.ask_passphrase,
            ask_password=self.prompter.ask_password,
            confirm_host_key=self.prompter.confirm_host_key,
        )
        return SshTransport(profile, prompts=prompts)

    def _offer_host_key_replacement(self, error: Optional[BaseException], entry: Optional[Connection]) -> None:
        """Show the changed-key dialog when the connect failed on a changed host key.

        The stored key is replaced only when the user picks "Replace stored
        key"; then the window connects again.
        """
        from ppdesk.remote.hostkeys import HostKeyChangedError, HostKeyStore

        if not isinstance(error, HostKeyChangedError) or entry is None:
            return
        store = getattr(self._transport, "host_keys", None) or HostKeyStore()
        dialog = ChangedHostKeyDialog(error, self)

        def replace_key(_token: Any, _report: Any) -> None:
            store.replace_host_key(error.host, error.port, error.new_key)

        def start_replacement() -> None:
            worker = self.pool.start(replace_key, name=f"replace host key of {error.host}:{error.port}")
            worker.signals.result.connect(lambda _value: self.connect_to(entry))
            worker.signals.error.connect(lambda message: self.banner.show_message(f"Cannot replace the host key: {message}"))

        dialog.accepted.connect(start_replacement)
        dialog.open()

    # ------------------------------------------------------------------
    # Profiles and the connection dialog

    def _load_profiles(self) -> None:
        """Read the saved profiles in a worker; :meth:`_apply_profiles` fills the combo with them."""
        if self.profiles is None:
            return
        store = self.profiles
        worker = self.pool.start(lambda _token, _report: store.load(), name=f"read profiles {store.path}")
        worker.signals.result.connect(self._apply_profiles)
        worker.signals.error.connect(lambda message: self.banner.show_message(f"Cannot read the profiles: {message}"))

    @Slot(object)
    def _apply_profiles(self, saved: List["Profile"]) -> None:
        """Replace the combo's profile entries with ``saved``, keeping local and given workspaces.

        The current entry stays current when it still exists, else the last
        used profile is chosen. Emits ``profilesLoaded`` afterwards.
        """
        if self._closing:
            return
        kept = [
            entry
            for entry in (self.connection_combo.itemData(i) for i in range(self.connection_combo.count()))
            if isinstance(entry, Connection) and entry.kind != PROFILE_ENTRY
        ]
        current = self.connection_combo.currentData()

        self.connection_combo.blockSignals(True)
        self.connection_combo.clear()
        for entry in kept:
            self.connection_combo.addItem(entry.label, entry)
        for profile in saved:
            self.connection_combo.addItem(profile_label(profile), Connection(PROFILE_ENTRY, profile.name, profile=profile))
        index = -1
        if isinstance(current, Connection):
            index = self._find_entry(current.kind, current.label)
        if index < 0:
            index = self._find_entry(PROFILE_ENTRY, self.state.last_profile)
        if index >= 0:
            self.connection_combo.setCurrentIndex(index)
        self.connection_combo.blockSignals(False)
        self._update_enabled()
        self.profilesLoaded.emit(len(saved))

    def _find_entry(self, kind: str, label: str) -> int:
        for index in range(self.connection_combo.count()):
            entry = self.connection_combo.itemData(index)
            if isinstance(entry, Connection) and entry.kind == kind and entry.label == label:
                return index
        return -1

    def _insert_entry(self, entry: Connection) -> None:
        index = self._find_entry(entry.kind, entry.label)
        if index < 0:
            self.connection_combo.insertItem(0, entry.label, entry)
            index = 0
        else:
            self.connection_combo.setItemData(index, entry)
        self.connection_combo.setCurrentIndex(index)

    @Slot()
    def open_connection_dialog(self) -> None:
        from ppdesk.gui.connection_dialog import ConnectionDialog

        if self.profiles is None:
            from ppdesk.remote.profiles import ProfileStore

            self.profiles = ProfileStore()
        current = self.connection_combo.currentData()
        name = current.label if isinstance(current, Connection) and current.kind == PROFILE_ENTRY else None
        dialog = ConnectionDialog(self.profiles, self.pool, self._ssh_transport, self, select=name)
        # Each open builds a new dialog, so a closed one is deleted instead of piling up.
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.connectRequested.connect(self._on_dialog_connect)
        dialog.profileRenamed.connect(self._on_profile_renamed)
        dialog.finished.connect(lambda _code: self._load_profiles())
        dialog.open()

    @Slot(str, str)
    def _on_profile_renamed(self, old: str, new: str) -> None:
        """Move what the window keeps under a profile's name (last profile, selection, results) to its new name.

        Host keys need no move, because they are stored by host and port.
        """
        old_key, new_key = f"{PROFILE_ENTRY}:{old}", f"{PROFILE_ENTRY}:{new}"
        self.state.rename_workspace(old_key, new_key)
        if self.state.last_profile == old:
            self.state.last_profile = new
        if self._results_workspace == old_key:
            self._results_workspace = new_key
        # Relabelled in place, so the current entry stays current when the dialog's close reloads the profiles.
        for index in range(self.connection_combo.count()):
            entry = self.connection_combo.itemData(index)
            if isinstance(entry, Connection) and entry.kind == PROFILE_ENTRY and entry.label == old:
                entry.label = new
                if entry.profile is not None:
                    entry.profile = replace(entry.profile, name=new)
                self.connection_combo.setItemText(index, profile_label(entry.profile) if entry.profile else new)
        log.info("profile %s renamed to %s", old, new)

    @Slot(object)
    def _on_dialog_connect(self, profile: "Profile") -> None:
        entry = Connection(PROFILE_ENTRY, profile.name, profile=profile)
        self._insert_entry(entry)
        self.connect_to(entry)

    # ------------------------------------------------------------------
    # Local folders and the demo workspace

    @Slot()
    def choose_workspace_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open workspace folder (the folder that contains SimpleTuner/)")
        if folder:
            self.open_local_workspace(Path(folder))

    @Slot()
    def open_demo_workspace(self) -> None:
        """Build (or reuse) the demo workspace in a worker, then connect to it."""
        from ppdesk.demo import ensure_demo_workspace

        parent = self.demo_parent
        if parent is None:
            from ppdesk.settings import cache_dir

            parent = cache_dir()
        self._set_status("connecting", "preparing the demo workspace...")
        worker = self.pool.start(lambda _token, _report: ensure_demo_workspace(parent), name="demo workspace")
        worker.signals.result.connect(self._on_demo_ready)
        worker.signals.error.connect(self._on_demo_error)

    @Slot(object)
    def _on_demo_ready(self, root: Path) -> None:
        if self._closing:
            return
        entry = Connection(LOCAL_ENTRY, "Demo workspace", folder=str(root))
        self._insert_entry(entry)
        self.connect_to(entry)

    @Slot(str)
    def _on_demo_error(self, message: str) -> None:
        self._set_status("failed", "demo workspace unavailable")
        self.banner.show_message(f"Cannot build the demo workspace: {message}")

    def _connected_text(self) -> str:
        if self._transport is None or self._scan is None:
            return "not connected"
        label = self._connection.label if self._connection else self._transport.describe()
        return f"{label}: {describe_scan(self._scan)}"

    def _workspace_key(self) -> Optional[str]:
        return self._connection.workspace_key() if self._connection else None


def describe_scan(scan: "WorkspaceScan") -> str:
    """Return the scan's counts for the status bar: ``"6 configs in 3 families"``, ``"1 config in 1 family"``."""
    families = "1 family" if len(scan.families) == 1 else f"{len(scan.families)} families"
    return f"{plural(len(scan.configs), 'config')} in {families}"


def profile_label(profile: "Profile") -> str:
    """Return a saved profile's text in the workspace combo: its name, then its address unless the name shows it.

    ``"pod-a  (root@203.0.113.7:2222)"``, but ``"root@203.0.113.7 port 2222"``
    alone, because that name already reads as the address.
    """
    if name_shows_address(profile.name, profile.user, profile.host, profile.port):
        return profile.name
    return f"{profile.name}  ({profile.address})"


def name_shows_address(name: str, user: str, host: str, port: int) -> bool:
    """Return whether the profile name ``name`` contains ``user@host`` and, unless it is 22, ``port N``.

    Names suggested from an ssh command have this form, with ':' of an IPv6
    host written as '-'. Case is ignored. A name that gives another port
    (``port 2200`` for port 22) does not show the address.
    """
    logins = {f"{user}@{host}", f"{user}@{host.replace(':', '-')}"}
    # The login must stand alone: "root@10.0.0.1" is not in "root@10.0.0.12".
    found = any(re.search(rf"(?<![\w.@-]){re.escape(login)}(?![\w.-])", name, re.IGNORECASE) for login in logins)
    if not found:
        return False
    named_port = re.search(r"\bport (\d+)\b", name, re.IGNORECASE)
    if named_port is None:
        return port == 22
    return int(named_port.group(1)) == port
