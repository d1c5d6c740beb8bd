"""The family and config combo boxes, which cascade.

Choosing a family refills the config combo with an "All configs in
<family>" entry first and then the family's configs. A refill after a rescan
keeps the previous family and config when they still exist.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QStyle, QWidget

if TYPE_CHECKING:
    from ppdesk.tools.workspace import ConfigEntry, WorkspaceScan

log = logging.getLogger(__name__)

# (family, config name or None for the whole family)
Selection = Tuple[Optional[str], Optional[str]]


def all_configs_label(family: str) -> str:
    return f"All configs in {family}"


def default_family(scan: Optional["WorkspaceScan"]) -> Optional[str]:
    """Return the family to show when none is remembered, or None for an empty scan.

    That is the first family, in the scan's natural order, with at least one
    config whose output folder exists, so a fresh connect lands on something
    the tools can work on. Without any output it is the first family.
    """
    if scan is None or not scan.families:
        return None
    with_output = {entry.family for entry in scan.configs if entry.output_exists}
    for family in scan.families:
        if family in with_output:
            return family
    return next(iter(scan.families))


def refill_combo(combo: QComboBox, items: Sequence[Tuple[str, object]], keep: object) -> bool:
    """Replace the items of ``combo`` with its signals blocked.

    ``items`` are (label, data) pairs. The item whose data equals ``keep`` is
    selected again when present, else the first item; returns True when
    ``keep`` was found.
    """
    was_blocked = combo.blockSignals(True)
    try:
        combo.clear()
        for label, data in items:
            combo.addItem(label, data)
        index = combo.findData(keep) if keep is not None else -1
        found = index >= 0
        if not found:
            index = 0 if items else -1
        combo.setCurrentIndex(index)
    finally:
        combo.blockSignals(was_blocked)
    return found


class SelectionPanel(QWidget):
    """Family and config combo boxes bound to a :class:`WorkspaceScan`.

    Emits ``selectionChanged(family, config)`` once per user change or per
    rescan that changes the selection; ``config`` is "" for a whole family.
    """

    selectionChanged = Signal(str, str)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._scan: Optional["WorkspaceScan"] = None
        self._families: Dict[str, List[str]] = {}

        self.family_combo = QComboBox()
        self.family_combo.setObjectName("familyCombo")
        self.family_combo.setMinimumContentsLength(16)
        self.family_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.config_combo = QComboBox()
        self.config_combo.setObjectName("configCombo")
        self.config_combo.setMinimumContentsLength(28)
        self.config_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.config_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

        # Alt+A, because Alt+F opens the main window's File menu.
        family_label = QLabel("F&amily:")
        family_label.setBuddy(self.family_combo)
        config_label = QLabel("C&onfig:")
        config_label.setBuddy(self.config_combo)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(family_label)
        layout.addWidget(self.family_combo)
        layout.addSpacing(12)
        layout.addWidget(config_label)
        layout.addWidget(self.config_combo, 1)

        self.family_combo.currentIndexChanged.connect(self._on_family_changed)
        self.config_combo.currentIndexChanged.connect(self._on_config_changed)
        self._set_empty("Connect to a workspace")

    # -- public API -------------------------------------------------------

    @property
    def scan(self) -> Optional["WorkspaceScan"]:
        return self._scan

    def set_scan(self, scan: Optional["WorkspaceScan"], prefer: Optional[Selection] = None) -> None:
        """Show the families and configs of ``scan``.

        Keeps ``prefer`` (default: the current selection) when its family
        still exists. Otherwise it selects :func:`default_family` with its
        "All configs" entry.
        """
        before = self.current()
        keep = prefer if prefer is not None else before
        self._scan = scan
        self._families = {name: list(configs) for name, configs in (scan.families.items() if scan else [])}
        if not self._families:
            self._set_empty("No configs found" if scan is not None else "Connect to a workspace")
            self._emit_if_changed(before)
            return

        if keep[0] not in self._families:
            keep = (default_family(scan), None)
        self.family_combo.setEnabled(True)
        self.config_combo.setEnabled(True)
        refill_combo(self.family_combo, self._family_items(), keep[0])
        self._fill_configs(keep[1])
        self._emit_if_changed(before)

    def current(self) -> Selection:
        """Return (family, config); config is None for the whole family."""
        family = self.family_combo.currentData()
        if not isinstance(family, str):
            return (None, None)
        config = self.config_combo.currentData()
        return (family, config if isinstance(config, str) and config else None)

    def select(self, family: str, config: Optional[str] = None) -> bool:
        """Select ``family`` and ``config`` (None: all of the family); return False if unknown."""
        if family not in self._families:
            return False
        if config is not None and config not in self._families[family]:
            return False
        before = self.current()
        refill_combo(self.family_combo, self._family_items(), family)
        self._fill_configs(config)
        self._emit_if_changed(before)
        return True

    def selected_configs(self) -> List["ConfigEntry"]:
        """Return the configs of the current selection (empty without a scan)."""
        family, config = self.current()
        if self._scan is None or family is None:
            return []
        return list(self._scan.select(family, config))

    # -- internals ----------------------------------------------------------

    def _family_items(self) -> List[Tuple[str, object]]:
        return [(f"{name}  ({len(configs)})", name) for name, configs in self._families.items()]

    def _fill_configs(self, keep: Optional[str]) -> None:
        family = self.family_combo.currentData()
        names = self._families.get(family, []) if isinstance(family, str) else []
        items: List[Tuple[str, object]] = [(all_configs_label(family), "")] if names else []
        items += [(name, name) for name in names]
        refill_combo(self.config_combo, items, keep if keep else "")
        self._decorate_configs()

    def _decorate_configs(self) -> None:
        """Mark configs whose scan found errors with a warning icon and tooltip."""
        if self._scan is None:
            return
        by_name = {entry.name: entry for entry in self._scan.configs}
        warning_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for index in range(self.config_combo.count()):
            entry = by_name.get(self.config_combo.itemData(index))
            if entry is None:
                continue
            problems = list(entry.errors) + list(entry.warnings)
            if entry.errors:
                self.config_combo.setItemIcon(index, warning_icon)
            if problems:
                self.config_combo.setItemData(index, "\n".join(problems), Qt.ItemDataRole.ToolTipRole)

    def _set_empty(self, placeholder: str) -> None:
        for combo in (self.family_combo, self.config_combo):
            refill_combo(combo, [], None)
            combo.setPlaceholderText(placeholder)
            combo.setEnabled(False)

    def _emit_if_changed(self, before: Selection) -> None:
        after = self.current()
        if after != before:
            self.selectionChanged.emit(after[0] or "", after[1] or "")

    @Slot(int)
    def _on_family_changed(self, _index: int) -> None:
        self._fill_configs(None)
        family, config = self.current()
        self.selectionChanged.emit(family or "", config or "")

    @Slot(int)
    def _on_config_changed(self, _index: int) -> None:
        family, config = self.current()
        self.selectionChanged.emit(family or "", config or "")
