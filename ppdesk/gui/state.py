"""The window's remembered values (selection, destination, layout), stored with QSettings.

The default store is QSettings with organisation "ppdesk" and application
"ppdesk" in the platform's native format. Tests pass their own QSettings (an
INI file in a temporary folder) so they never touch the user's settings.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import List, Optional, Tuple

from PySide6.QtCore import QByteArray, QSettings

log = logging.getLogger(__name__)

ORGANISATION = "ppdesk"
APPLICATION = "ppdesk"
# Maximum number of workspaces whose selection is remembered. The workspace
# used longest ago is forgotten first.
MAX_REMEMBERED_WORKSPACES = 50


def default_settings() -> QSettings:
    return QSettings(ORGANISATION, APPLICATION)


def ini_settings(path: Path) -> QSettings:
    """Return settings stored in the INI file ``path`` (for tests and portable use)."""
    return QSettings(str(path), QSettings.Format.IniFormat)


class WindowState:
    """Typed access to the remembered values; every getter tolerates missing or bad data."""

    def __init__(self, settings: Optional[QSettings] = None) -> None:
        self.settings = settings if settings is not None else default_settings()

    # -- selection and connection ----------------------------------------

    @property
    def last_profile(self) -> str:
        return self._text("connection/profile")

    @last_profile.setter
    def last_profile(self, name: str) -> None:
        self.settings.setValue("connection/profile", name)

    @property
    def family(self) -> str:
        """The family chosen last in any workspace."""
        return self._text("selection/family")

    @property
    def config(self) -> str:
        """The config chosen last in any workspace; "" stands for all configs of the family."""
        return self._text("selection/config")

    def set_selection(self, family: Optional[str], config: Optional[str], workspace: Optional[str] = None) -> None:
        """Remember ``family`` and ``config`` (None: all configs) as the last selection.

        With ``workspace`` (an id such as ``local:/path``) they are also
        remembered for that workspace, and :meth:`selection_for` returns
        them there even after another workspace was used.
        """
        self.settings.setValue("selection/family", family or "")
        self.settings.setValue("selection/config", config or "")
        if not workspace:
            return
        entries = [entry for entry in self._workspace_selections() if entry[0] != workspace]
        entries.insert(0, (workspace, family or "", config or ""))
        del entries[MAX_REMEMBERED_WORKSPACES:]
        self.settings.setValue("selection/workspaces", json.dumps([list(entry) for entry in entries]))

    def selection_for(self, workspace: Optional[str]) -> Tuple[str, str]:
        """Return the (family, config) last chosen in ``workspace``; config "" means all configs.

        A workspace without a remembered selection gets the last selection
        of any workspace, as :attr:`family` and :attr:`config` store it.
        """
        for key, family, config in self._workspace_selections():
            if key == workspace and family:
                return family, config
        return self.family, self.config

    def rename_workspace(self, old: str, new: str) -> None:
        """Move the selection remembered for workspace id ``old`` to ``new``, replacing any selection of ``new``."""
        entries = self._workspace_selections()
        if not any(key == old for key, _family, _config in entries):
            return
        # The moved entry keeps its place in the order of use.
        renamed = [(new if key == old else key, family, config) for key, family, config in entries if key != new]
        self.settings.setValue("selection/workspaces", json.dumps([list(entry) for entry in renamed]))

    @property
    def destination(self) -> str:
        return self._text("selection/destination")

    @destination.setter
    def destination(self, folder: str) -> None:
        self.settings.setValue("selection/destination", folder)

    # -- tool options -----------------------------------------------------

    @property
    def include_base(self) -> bool:
        """Whether validation grids keep step 0 and add the base model's row (``ToolOptions.include_base``)."""
        return self._flag("tools/include_base")

    @include_base.setter
    def include_base(self, on: bool) -> None:
        self.settings.setValue("tools/include_base", bool(on))

    # -- window layout ----------------------------------------------------

    @property
    def geometry(self) -> Optional[QByteArray]:
        return self._bytes("window/geometry")

    @geometry.setter
    def geometry(self, data: QByteArray) -> None:
        self.settings.setValue("window/geometry", data)

    @property
    def window_state(self) -> Optional[QByteArray]:
        return self._bytes("window/state")

    @window_state.setter
    def window_state(self, data: QByteArray) -> None:
        self.settings.setValue("window/state", data)

    def window_geometry(self, name: str) -> Optional[QByteArray]:
        """Return the saved geometry of the secondary window ``name`` (e.g. "viewer"), or None."""
        return self._bytes(f"window/{name}_geometry")

    def set_window_geometry(self, name: str, data: QByteArray) -> None:
        self.settings.setValue(f"window/{name}_geometry", data)

    def splitter_sizes(self, name: str) -> List[int]:
        """Return the stored sizes of splitter ``name`` in pixels, or [] when none are stored."""
        value = self.settings.value(f"window/splitter_{name}")
        if not isinstance(value, (list, tuple)):
            return []
        try:
            return [int(size) for size in value]
        except (TypeError, ValueError):
            log.debug("ignoring invalid splitter sizes %r for %s", value, name)
            return []

    def set_splitter_sizes(self, name: str, sizes: List[int]) -> None:
        self.settings.setValue(f"window/splitter_{name}", [int(size) for size in sizes])

    def sync(self) -> None:
        self.settings.sync()

    # -- internals ----------------------------------------------------------

    def _text(self, key: str) -> str:
        value = self.settings.value(key, "")
        return value if isinstance(value, str) else ""

    def _flag(self, key: str) -> bool:
        # The INI format returns a stored bool as the string "true" or "false".
        value = self.settings.value(key, False)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return value is True or value == 1

    def _workspace_selections(self) -> List[Tuple[str, str, str]]:
        """Return the stored (workspace, family, config) entries, newest first, skipping invalid ones."""
        text = self._text("selection/workspaces")
        if not text:
            return []
        try:
            stored = json.loads(text)
        except ValueError:
            log.warning("ignoring the remembered selections, which are not valid JSON: %.80r", text)
            return []
        entries: List[Tuple[str, str, str]] = []
        for item in stored if isinstance(stored, list) else []:
            if isinstance(item, list) and len(item) == 3 and all(isinstance(part, str) for part in item):
                entries.append((item[0], item[1], item[2]))
        return entries

    def _bytes(self, key: str) -> Optional[QByteArray]:
        value = self.settings.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None
