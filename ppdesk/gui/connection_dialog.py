"""The connection dialog: saved profiles, the profile form and a connection test.

Pasting the ssh command a pod provider shows fills the form and names the
profile after the address. A parse error is shown under the field. The key
file is checked in a worker whenever it changes, and again before a save or
a connection. "Test connection" connects in a worker and runs the agent's
``probe`` operation, so the dialog stays responsive meanwhile.
"""

from __future__ import annotations

import logging
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ppdesk.gui.key_file_field import KeyFileField
from ppdesk.gui.workers import Worker, WorkerPool
from ppdesk.remote.errors import RemoteFileError
from ppdesk.remote.profiles import AUTH_METHODS, Profile, ProfileStore, check_profile_name, suggest_profile_name

if TYPE_CHECKING:
    from ppdesk.remote.transport import Transport

log = logging.getLogger(__name__)

TransportFactory = Callable[[Profile], "Transport"]

AUTH_LABELS: Dict[str, str] = {
    "key": "Private key file",
    "agent": "SSH agent",
    "password": "Password (asked when connecting)",
}
ERROR_STYLE = "color: #c62828;"
OK_STYLE = "color: #2e7d32;"
WARNING_STYLE = "color: #b26a00;"


def _browse_row(edit: QLineEdit, button: QPushButton) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit, 1)
    layout.addWidget(button)
    return row


def _optional(text: str) -> Optional[str]:
    text = text.strip()
    return text or None


class ConnectionDialog(QDialog):
    """Edit, test and choose connection profiles.

    ``store`` is read and written in workers of ``pool``, and so is the
    connection test: ``transport_factory`` builds the transport that "Test
    connection" opens. Signals: ``profilesLoaded(int)`` after the list shows
    the stored profiles, ``profileRenamed(old name, new name)`` and then
    ``profileSaved(Profile)`` after a save reached the file, and
    ``connectRequested(Profile)`` when the user presses Connect and the
    profile is saved, and ``testFinished(connected, text)`` after a
    connection test, whose ``text`` also warns when the workspace root has
    no SimpleTuner config folder. ``confirm(title, text)`` asks the user a yes/no
    question; tests replace it.
    """

    connectRequested = Signal(object)
    testFinished = Signal(bool, str)
    profilesLoaded = Signal(int)
    profileSaved = Signal(object)
    profileRenamed = Signal(str, str)

    def __init__(
        self,
        store: ProfileStore,
        pool: WorkerPool,
        transport_factory: TransportFactory,
        parent: Optional[QWidget] = None,
        select: Optional[str] = None,
        ssh_config_path: Optional[Path] = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.pool = pool
        self.transport_factory = transport_factory
        self.ssh_config_path = ssh_config_path or Path.home() / ".ssh" / "config"
        self.choose_host: Callable[[List[str]], Optional[str]] = self._choose_host
        self.confirm: Callable[[str, str], bool] = self._ask_yes_no
        self._select_after_load: Optional[str] = None
        # The profile being written, whether Connect follows and the name it replaces in a rename, or None.
        self._saving: Optional[Tuple[Profile, bool, Optional[str]]] = None
        self._save_worker: Optional[Worker] = None
        # The name of the stored profile the form shows, which a save may replace. None for a new profile.
        self._editing: Optional[str] = None
        # The name the dialog made from the last pasted command. The next
        # pasted command replaces it, but never a name the user typed.
        self._suggested_name: Optional[str] = None
        self._deleting = ""
        # The running ~/.ssh/config import. It is None when none runs and after the dialog closed.
        self._import_worker: Optional[Worker] = None
        self._test_worker: Optional[Worker] = None
        self.setWindowTitle("Connection profiles")
        self.setObjectName("connectionDialog")
        self._build()
        self.finished.connect(self._on_closed)
        self._reload(select)

    # -- construction ---------------------------------------------------------

    def _build(self) -> None:
        # Profile list on the left.
        self.profile_list = QListWidget()
        self.profile_list.setObjectName("profileList")
        self.profile_list.setMinimumWidth(170)
        self.profile_list.currentItemChanged.connect(self._on_profile_chosen)
        new_button = QPushButton("New")
        new_button.clicked.connect(self.new_profile)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_profile)
        self.import_button = QPushButton("Import from ~/.ssh/config")
        self.import_button.clicked.connect(self.import_from_ssh_config)
        for button in (new_button, self.delete_button, self.import_button):
            button.setAutoDefault(False)
        list_buttons = QHBoxLayout()
        list_buttons.addWidget(new_button)
        list_buttons.addWidget(self.delete_button)
        left = QVBoxLayout()
        left.addWidget(QLabel("Saved profiles"))
        left.addWidget(self.profile_list, 1)
        left.addLayout(list_buttons)
        left.addWidget(self.import_button)

        # The ssh command field.
        self.command_edit = QLineEdit()
        self.command_edit.setObjectName("sshCommandEdit")
        self.command_edit.setPlaceholderText("ssh root@203.0.113.7 -p 22101 -i ~/.ssh/id_ed25519")
        self.command_edit.returnPressed.connect(self.fill_from_command)
        fill_button = QPushButton("Fill form")
        fill_button.setAutoDefault(False)
        fill_button.clicked.connect(self.fill_from_command)
        self.command_error = QLabel()
        self.command_error.setObjectName("sshCommandError")
        self.command_error.setStyleSheet(ERROR_STYLE)
        self.command_error.setWordWrap(True)
        self.command_error.hide()
        paste_box = QGroupBox("Paste the ssh command your pod provider shows")
        paste_layout = QVBoxLayout(paste_box)
        paste_row = QHBoxLayout()
        paste_row.addWidget(self.command_edit, 1)
        paste_row.addWidget(fill_button)
        paste_layout.addLayout(paste_row)
        paste_layout.addWidget(self.command_error)

        # The profile form.
        self.name_edit = QLineEdit()
        self.host_edit = QLineEdit()
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(22)
        self.user_edit = QLineEdit("root")
        self.auth_combo = QComboBox()
        for method in AUTH_METHODS:
            self.auth_combo.addItem(AUTH_LABELS.get(method, method), method)
        self.auth_combo.currentIndexChanged.connect(self._on_auth_changed)
        self.key_field = KeyFileField(self.pool)
        self.key_edit = self.key_field.edit
        self.root_edit = QLineEdit("/workspace")
        self.python_edit = QLineEdit()
        self.python_edit.setPlaceholderText("default: SimpleTuner's venv, else python3")
        self.loras_edit = QLineEdit()
        self.loras_edit.setPlaceholderText("default: <workspace>/ComfyUI/models/loras")
        # A ProxyCommand runs on this computer, so the form shows it instead of keeping it out of sight.
        self.proxy_edit = QLineEdit()
        self.proxy_edit.setObjectName("proxyCommandEdit")
        self.proxy_edit.setPlaceholderText("optional: a local command, as ProxyCommand in ~/.ssh/config")
        self.destination_edit = QLineEdit()
        self.destination_edit.setPlaceholderText("local folder for this pod's downloads")
        destination_button = QPushButton("Browse...")
        destination_button.clicked.connect(self._browse_destination)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("&Name:", self.name_edit)
        form.addRow("&Host:", self.host_edit)
        form.addRow("&Port:", self.port_spin)
        form.addRow("&User:", self.user_edit)
        form.addRow("&Authentication:", self.auth_combo)
        form.addRow("&Key file:", self.key_field)
        form.addRow("Pro&xy command:", self.proxy_edit)
        form.addRow("&Workspace root:", self.root_edit)
        form.addRow("P&ython interpreter:", self.python_edit)
        form.addRow("&LoRAs folder:", self.loras_edit)
        form.addRow("Default &destination:", _browse_row(self.destination_edit, destination_button))
        self.form = form

        self.form_error = QLabel()
        self.form_error.setObjectName("formError")
        self.form_error.setStyleSheet(ERROR_STYLE)
        self.form_error.setWordWrap(True)
        self.form_error.hide()
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.test_result = QLabel()
        self.test_result.setObjectName("testResult")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)

        # Enter in a field must reach "Save and connect", not the nearest button.
        for button in (destination_button, self.test_button):
            button.setAutoDefault(False)

        right = QVBoxLayout()
        right.addWidget(paste_box)
        right.addLayout(form)
        right.addWidget(self.form_error)
        right.addLayout(test_row)
        right.addStretch(1)

        buttons = QDialogButtonBox()
        self.save_button = buttons.addButton(QDialogButtonBox.StandardButton.Save)
        self.connect_button = buttons.addButton("Save and connect", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.save_button.clicked.connect(lambda _checked=False: self.save_profile())
        self.connect_button.clicked.connect(self._on_connect)
        buttons.rejected.connect(self.reject)

        columns = QHBoxLayout()
        columns.addLayout(left)
        columns.addSpacing(8)
        columns.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(columns, 1)
        layout.addWidget(buttons)
        # Set once the button is inside the dialog, because QDialog tracks its default button only then.
        self.connect_button.setDefault(True)
        self.resize(860, 560)
        self._on_auth_changed()

    # -- the form ---------------------------------------------------------------

    def set_form(self, profile: Profile, stored: bool = True) -> None:
        """Show ``profile`` in the form; a save replaces it only when it is ``stored`` under that name."""
        self._editing = profile.name if stored else None
        self._suggested_name = None
        self.name_edit.setText(profile.name)
        self._fill_connection(profile.host, profile.port, profile.user, profile.auth, profile.key_file)
        self.root_edit.setText(profile.root)
        self.python_edit.setText(profile.python or "")
        self.loras_edit.setText(profile.loras_dir or "")
        self.destination_edit.setText(profile.destination or "")
        self.proxy_edit.setText(profile.proxy_command or "")
        self.form_error.hide()
        self.test_result.clear()

    def profile_from_form(self) -> Profile:
        """Build a profile from the form; raises ValueError naming the invalid field."""
        name = self.name_edit.text().strip()
        check_profile_name(name)
        return Profile(
            name=name,
            host=self.host_edit.text().strip(),
            port=self.port_spin.value(),
            user=self.user_edit.text().strip(),
            auth=str(self.auth_combo.currentData()),
            key_file=_optional(self.key_edit.text()),
            root=self.root_edit.text().strip() or "/workspace",
            python=_optional(self.python_edit.text()),
            loras_dir=_optional(self.loras_edit.text()),
            destination=_optional(self.destination_edit.text()),
            proxy_command=_optional(self.proxy_edit.text()),
        )

    @Slot()
    def fill_from_command(self) -> bool:
        """Fill host, port, user and key from the pasted ssh command; return False on a parse error.

        An empty name, or one the dialog suggested before, becomes
        ``user@host port N``, numbered when a listed profile has it. A name
        the user typed or a stored profile's name stays.
        """
        from ppdesk.remote.sshcommand import parse_ssh_command

        try:
            fields = parse_ssh_command(self.command_edit.text())
        except ValueError as exc:
            self.command_error.setText(str(exc))
            self.command_error.show()
            return False
        self.command_error.hide()
        self._fill_connection(fields["host"], fields["port"], fields["user"], fields["auth"], fields.get("key_file"))
        name = self.name_edit.text().strip()
        if not name or name == self._suggested_name:
            listed = self._listed_names()
            self._suggested_name = suggest_profile_name(fields["user"], fields["host"], fields["port"], listed)
            self.name_edit.setText(self._suggested_name)
        return True

    def _fill_connection(self, host: str, port: int, user: str, auth: str, key_file: Optional[str]) -> None:
        self.host_edit.setText(host)
        self.port_spin.setValue(int(port))
        self.user_edit.setText(user)
        index = self.auth_combo.findData(auth)
        self.auth_combo.blockSignals(True)
        self.auth_combo.setCurrentIndex(index if index >= 0 else 0)
        self.auth_combo.blockSignals(False)
        self.key_field.setEnabled(self.auth_combo.currentData() == "key")
        self.key_field.set_text(key_file or "")

    @Slot()
    def _on_auth_changed(self) -> None:
        self.key_field.setEnabled(self.auth_combo.currentData() == "key")
        self.key_field.check()

    @Slot()
    def _browse_destination(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the default destination folder", self.destination_edit.text())
        if folder:
            self.destination_edit.setText(folder)

    # -- the profile list -------------------------------------------------------

    def _reload(self, select: Optional[str] = None) -> None:
        """Read the stored profiles in a worker, then list them and choose ``select``."""
        store = self.store
        self._select_after_load = select
        worker = self.pool.start(lambda _token, _report: store.load(), name=f"read profiles {store.path}")
        # Bound methods, not lambdas: Qt drops them when the dialog is deleted before the worker ends.
        worker.signals.result.connect(self._on_profiles_read)
        worker.signals.error.connect(self._on_load_error)

    @Slot(object)
    def _on_profiles_read(self, profiles: List[Profile]) -> None:
        self._fill_list(profiles, self._select_after_load)

    @Slot(str)
    def _on_load_error(self, message: str) -> None:
        self._show_form_error(message)
        self._fill_list([], None)

    def _fill_list(self, profiles: List[Profile], select: Optional[str]) -> None:
        self.profile_list.blockSignals(True)
        self.profile_list.clear()
        for profile in profiles:
            item = QListWidgetItem(profile.name)
            item.setData(Qt.ItemDataRole.UserRole, profile)
            item.setToolTip(profile.address)
            self.profile_list.addItem(item)
        self.profile_list.blockSignals(False)
        for row in range(self.profile_list.count()):
            if self.profile_list.item(row).text() == select:
                self.profile_list.setCurrentRow(row)
                break
        else:
            if self.profile_list.count():
                self.profile_list.setCurrentRow(0)
        self.delete_button.setEnabled(self.profile_list.count() > 0)
        self.profilesLoaded.emit(self.profile_list.count())

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_profile_chosen(self, current: Optional[QListWidgetItem], _previous: Optional[QListWidgetItem]) -> None:
        if current is None:
            return
        profile = current.data(Qt.ItemDataRole.UserRole)
        if isinstance(profile, Profile):
            self.set_form(profile)

    @Slot()
    def new_profile(self) -> None:
        self.profile_list.clearSelection()
        self.profile_list.setCurrentRow(-1)
        self.name_edit.clear()
        self._editing = None
        self._suggested_name = None
        self._fill_connection("", 22, "root", "key", None)
        self.root_edit.setText("/workspace")
        for edit in (self.python_edit, self.loras_edit, self.destination_edit, self.proxy_edit, self.command_edit):
            edit.clear()
        self.form_error.hide()
        self.test_result.clear()
        self.command_edit.setFocus()

    @Slot()
    def save_profile(self, then_connect: bool = False) -> Optional[Profile]:
        """Validate the form, then check the key file and store the profile in a worker.

        A save replaces the stored profile the form was filled from. When the
        name was changed, that is a rename: the profile is stored under the
        new name and the old entry removed. Renaming onto another listed
        profile's name calls ``confirm`` first and replaces that profile
        only after a yes. A new or imported profile never replaces another
        one: its name is reported as taken. Returns the profile when the
        worker has started, None (with the reason shown) otherwise. ``profileRenamed``
        and ``profileSaved`` follow the write, and with ``then_connect``
        ``connectRequested`` too. A key file problem is shown under the key
        field and stops the save.
        """
        try:
            profile = self.profile_from_form()
            check_profile_name(profile.name)
            profile.validate()
        except ValueError as exc:
            self._show_form_error(str(exc))
            return None

        store = self.store
        replace = profile.name == self._editing
        renamed_from = self._editing if self._editing is not None and not replace else None
        other = self._listed_profile(profile.name)
        if renamed_from is not None and other is not None:
            if not self._confirm_replace(renamed_from, other):
                self._show_form_error(f"Not renamed: a profile named {profile.name!r} exists; choose another name.")
                return None
            replace = True

        self._saving = (profile, then_connect, renamed_from)
        worker = self.pool.start(
            lambda _token, _report: _save_profile(store, profile, replace, renamed_from),
            name=f"save profile {profile.name}",
        )
        worker.signals.result.connect(self._on_saved)
        worker.signals.error.connect(self._on_save_error)
        self._save_worker = worker
        self.form_error.hide()
        return profile

    @Slot(object)
    def _on_saved(self, _value: object) -> None:
        if self._saving is None:
            return
        (profile, then_connect, renamed_from), self._saving = self._saving, None
        self._save_worker = None
        self._editing = profile.name
        self._reload(profile.name)
        if renamed_from is not None:
            self.profileRenamed.emit(renamed_from, profile.name)
        self.profileSaved.emit(profile)
        if then_connect:
            self.connectRequested.emit(profile)
            self.accept()

    @Slot(str)
    def _on_save_error(self, message: str) -> None:
        self._saving = None
        failure = self._save_worker.exception if self._save_worker is not None else None
        self._save_worker = None
        if _is_key_file_error(failure):
            self.key_field.show_error(message, getattr(failure, "suggestion", None) or "")
            self.key_edit.setFocus()
        elif isinstance(failure, ValueError):
            self._show_form_error(message)
        else:
            self._show_form_error(f"Cannot save to {self.store.path}: {message}")

    def _listed_names(self) -> List[str]:
        return [self.profile_list.item(row).text() for row in range(self.profile_list.count())]

    def _listed_profile(self, name: str) -> Optional[Profile]:
        for row in range(self.profile_list.count()):
            item = self.profile_list.item(row)
            profile = item.data(Qt.ItemDataRole.UserRole)
            if item.text() == name and isinstance(profile, Profile):
                return profile
        return None

    def _confirm_replace(self, old_name: str, other: Profile) -> bool:
        """Ask whether renaming ``old_name`` may replace ``other``, the listed profile of the new name."""
        return self.confirm(
            "Replace profile",
            f"A profile named {other.name!r} ({other.address}) exists already. "
            f"Rename {old_name!r} to {other.name!r} and replace that profile?",
        )

    def _ask_yes_no(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(
            self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    @Slot()
    def delete_profile(self) -> None:
        item = self.profile_list.currentItem()
        if item is None:
            return
        name = item.text()
        store = self.store
        self._deleting = name
        worker = self.pool.start(lambda _token, _report: _remove_profile(store, name), name=f"delete profile {name}")
        worker.signals.result.connect(self._on_deleted)
        worker.signals.error.connect(self._on_delete_error)

    @Slot(str)
    def _on_delete_error(self, message: str) -> None:
        self._show_form_error(f"Cannot delete profile {self._deleting!r}: {message}")
        self._reload()

    @Slot(object)
    def _on_deleted(self, _value: object) -> None:
        if self.profile_list.count() <= 1:
            self.new_profile()
        self._reload()

    @Slot()
    def import_from_ssh_config(self) -> None:
        """Read ~/.ssh/config in a worker and fill the form from a chosen host.

        The worker's signals go to bound methods, so Qt drops them when the
        dialog is deleted first. A result that arrives after the dialog was
        closed is dropped too.
        """
        from ppdesk.remote.sshcommand import import_ssh_config

        path = self.ssh_config_path
        warnings: List[str] = []

        def job(_token: Any, _report: Any) -> Tuple[List[Profile], List[str]]:
            return import_ssh_config(str(path), warnings), warnings

        worker = self.pool.start(job, name=f"import {path}")
        worker.signals.result.connect(self._on_imported)
        worker.signals.error.connect(self._on_import_error)
        worker.signals.finished.connect(self._on_import_finished)
        self._import_worker = worker
        self.import_button.setEnabled(False)

    @Slot(object)
    def _on_imported(self, outcome: Tuple[List[Profile], List[str]]) -> None:
        if self._import_worker is None:
            log.debug("dropped the import of %s: the dialog was closed", self.ssh_config_path)
            return
        profiles, warnings = outcome
        if not profiles:
            detail = f" ({'; '.join(warnings)})" if warnings else ""
            self._show_form_error(
                f"{self.ssh_config_path} lists no host that ppdesk can use{detail}; paste the ssh command above instead"
            )
            return
        by_name = {profile.name: profile for profile in profiles}
        chosen = self.choose_host(list(by_name)) if len(by_name) > 1 else next(iter(by_name))
        if chosen is None or chosen not in by_name:
            return
        self.new_profile()
        self.set_form(by_name[chosen], stored=False)
        if warnings:
            self._show_form_error("; ".join(warnings))

    @Slot(str)
    def _on_import_error(self, message: str) -> None:
        if self._import_worker is not None:
            self._show_form_error(f"Importing {self.ssh_config_path} failed: {message}")

    @Slot()
    def _on_import_finished(self) -> None:
        self._import_worker = None
        self.import_button.setEnabled(True)

    @Slot(int)
    def _on_closed(self, _code: int) -> None:
        if self._import_worker is not None:
            self._import_worker.cancel()
            self._import_worker = None

    def _choose_host(self, names: List[str]) -> Optional[str]:
        name, ok = QInputDialog.getItem(self, "Import from ~/.ssh/config", "Host:", names, 0, False)
        return name if ok else None

    # -- connection test and connect ----------------------------------------------

    @Slot()
    def test_connection(self) -> None:
        """Connect with the form's profile in a worker, run ``probe`` and show the outcome."""
        try:
            profile = self.profile_from_form()
            transport = self.transport_factory(profile)
        except ValueError as exc:
            self._show_form_error(str(exc))
            return
        self.form_error.hide()

        def job(token: Any, _report: Any) -> Tuple[Dict[str, Any], Optional[str]]:
            if profile.auth == "key":
                _check_key_file(profile.key_file)
            try:
                transport.connect()
                probe = transport.run_agent("probe", {}, cancel=token)
                return probe, _workspace_problem(transport)
            finally:
                transport.close()

        worker = self.pool.start(job, name=f"test connection {profile.address}")
        worker.signals.result.connect(self._on_test_result)
        worker.signals.error.connect(self._on_test_error)
        worker.signals.finished.connect(self._on_test_finished)
        self._test_worker = worker
        self.test_button.setEnabled(False)
        self.test_result.setStyleSheet("")
        self.test_result.setText(f"Connecting to {profile.address}...")

    @Slot(object)
    def _on_test_result(self, outcome: Tuple[Dict[str, Any], Optional[str]]) -> None:
        probe, workspace_problem = outcome
        pillow = probe.get("pillow") or "missing (grids will be composed locally)"
        interpreter = f"Python {probe.get('python', '?')} at {probe.get('executable', '?')}, Pillow {pillow}."
        if workspace_problem is None:
            text = f"Connected. {interpreter}"
            self.test_result.setStyleSheet(OK_STYLE)
        else:
            text = f"Connected, but {workspace_problem}. {interpreter}"
            self.test_result.setStyleSheet(WARNING_STYLE)
        self.test_result.setText(text)
        # Enabled before the signal, so a slot of testFinished may start another test.
        self.test_button.setEnabled(True)
        self.testFinished.emit(True, text)

    @Slot(str)
    def _on_test_error(self, message: str) -> None:
        failure = self._test_worker.exception if self._test_worker is not None else None
        self.test_result.setStyleSheet(ERROR_STYLE)
        if _is_key_file_error(failure):
            self.key_field.show_error(message, getattr(failure, "suggestion", None) or "")
            self.test_result.setText("Not connected: the key file above cannot be used.")
        else:
            self.test_result.setText(f"Connection failed: {message}")
        self.test_button.setEnabled(True)
        self.testFinished.emit(False, message)

    @Slot()
    def _on_test_finished(self) -> None:
        self._test_worker = None
        self.test_button.setEnabled(True)

    @Slot()
    def _on_connect(self) -> None:
        self.save_profile(then_connect=True)

    def _show_form_error(self, text: str) -> None:
        self.form_error.setText(text)
        self.form_error.show()


def _workspace_problem(transport: "Transport") -> Optional[str]:
    """Return what is wrong with the transport's workspace root, or None when its config folder exists.

    Runs in the connection test's worker, because it queries the pod.
    Raises what ``transport.stat`` raises for a failed link.
    """
    layout = transport.layout
    try:
        transport.stat(layout.config_dir)
        return None
    except RemoteFileError:
        pass
    try:
        transport.stat(layout.root)
    except RemoteFileError:
        return f"{layout.root} does not exist on the pod; set the workspace root to the folder that contains SimpleTuner"
    if posixpath.dirname(layout.config_dir) == layout.simpletuner and posixpath.dirname(layout.simpletuner) == layout.root:
        return (
            f"{layout.root} has no SimpleTuner/config folder; "
            f"set the workspace root to the folder that contains SimpleTuner"
        )
    return f"the config folder {layout.config_dir} was not found; set the workspace root to the folder that contains SimpleTuner"


def _remove_profile(store: ProfileStore, name: str) -> None:
    """Delete ``name`` from ``store``; runs in a worker, which reports a ValueError as a plain message."""
    try:
        store.remove(name)
    except KeyError as exc:
        raise ValueError(f"it is no longer in {store.path}; the list was reloaded") from exc


def _save_profile(store: ProfileStore, profile: Profile, replace: bool, renamed_from: Optional[str] = None) -> None:
    """Check the key file, then write ``profile`` and remove ``renamed_from``; runs in a worker.

    Raises KeyFileError for the key file, and ValueError when the name is
    taken and ``replace`` is False. The new entry is written before the old
    one is removed, so a failure between the two writes leaves both
    entries, never neither.
    """
    if profile.auth == "key":
        _check_key_file(profile.key_file)
    if not replace and any(existing.name == profile.name for existing in store.load()):
        raise ValueError(
            f"a profile named {profile.name!r} exists already; choose another name, "
            f"or select that profile in the list to change it"
        )
    store.save(profile, replace=True)
    if renamed_from is None:
        return
    try:
        store.remove(renamed_from)
    except KeyError:
        log.info("profile %s was renamed to %s, but the old entry was already gone", renamed_from, profile.name)


def _check_key_file(path: Optional[str]) -> None:
    # Imported here, so that paramiko loads only when a key file is checked.
    from ppdesk.remote.ssh_auth import check_key_file

    check_key_file(path)


def _is_key_file_error(error: Optional[BaseException]) -> bool:
    from ppdesk.remote.ssh_auth import KeyFileError

    return isinstance(error, KeyFileError)
