"""Viewer and compare shortcut lists are complete and true: listed keys work, no others do.

Every row of a shortcuts dialog needs a check below, keyed by the row's text.
A row without a check, or a check without a row, fails the coverage tests, so
the list in the dialog cannot drift away from the keys the viewer handles.
"""

from __future__ import annotations

import html
import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QKeyCombination, QPoint, QPointF, Qt
from PySide6.QtGui import QAction, QGuiApplication, QHelpEvent, QKeySequence, QMouseEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QToolTip

from ppdesk.core.grids.validation import op_validation_grid
from ppdesk.core.layout import WorkspaceLayout
from ppdesk.core.protocol import Emitter
from ppdesk.core.scan import op_scan
from ppdesk.gui.shortcuts_dialog import KEY_SEPARATOR, ShortcutsDialog, action_label, key_text
from ppdesk.gui.compare import CompareWindow
from ppdesk.gui.viewer import ImageView, ImageViewerWindow

LOAD_TIMEOUT_MS = 60_000
PHOTO, GRID, SMALL = 0, 1, 2


# Keys the sweep presses with each modifier set. Alt is left out, because Alt
# plus a letter opens a menu by its underlined letter, and Tab moves focus.
SWEEP_KEYS = (
    [Qt.Key(Qt.Key.Key_A.value + offset) for offset in range(26)]
    + [Qt.Key(Qt.Key.Key_0.value + offset) for offset in range(10)]
    + [Qt.Key(Qt.Key.Key_F1.value + offset) for offset in range(12)]
    + [
        Qt.Key.Key_Plus, Qt.Key.Key_Minus, Qt.Key.Key_Equal, Qt.Key.Key_BracketLeft, Qt.Key.Key_BracketRight,
        Qt.Key.Key_Comma, Qt.Key.Key_Period, Qt.Key.Key_Slash, Qt.Key.Key_Semicolon, Qt.Key.Key_Apostrophe,
        Qt.Key.Key_Backslash, Qt.Key.Key_QuoteLeft, Qt.Key.Key_Asterisk, Qt.Key.Key_Question, Qt.Key.Key_Space,
        Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape, Qt.Key.Key_Backspace, Qt.Key.Key_Delete,
        Qt.Key.Key_Insert, Qt.Key.Key_Home, Qt.Key.Key_End, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown,
        Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down,
    ]
)
NO_MODIFIER = Qt.KeyboardModifier.NoModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier
SWEEP_MODIFIERS = [NO_MODIFIER, SHIFT, CTRL, CTRL | SHIFT]
ARROWS = [Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down]


# Workspace ------------------------------------------------------------------


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, demo_template: Path) -> list[Path]:
    """A large photo, a validation grid built from the demo workspace, and a small image."""
    folder = tmp_path_factory.mktemp("viewer-shortcuts")
    root = folder / "workspace"
    shutil.copytree(demo_template, root, symlinks=True)
    layout = WorkspaceLayout.from_root(str(root))
    scan = op_scan(layout, {}, Emitter(io.StringIO()))
    config = next(entry["name"] for entry in scan["configs"] if entry["validation_samples"])
    grid = Path(op_validation_grid(layout, {"config": config}, Emitter(io.StringIO()))["grid"])

    photo = folder / "photo.png"
    Image.new("RGB", (3000, 2000), "steelblue").save(photo)
    small = folder / "small.png"
    Image.new("RGB", (77, 33), "orange").save(small)
    return [photo, grid, small]


@dataclass
class Viewer:
    """A shown viewer over ``images`` plus records of what it handed to the outside."""

    qtbot: Any
    window: ImageViewerWindow
    images: list[Path]
    tmp_path: Path
    compared: list[Path] = field(default_factory=list)
    opened_cells: list[Any] = field(default_factory=list)
    file_dialogs: list[str] = field(default_factory=list)
    open_answer: list[str] = field(default_factory=list)
    save_answer: str = ""

    def show(self, index: int) -> None:
        """Open every image, show ``images[index]`` and give the view the keyboard focus."""
        self.focus()
        with self.qtbot.waitSignal(self.window.image_loaded, timeout=LOAD_TIMEOUT_MS):
            self.window.open_images(self.images, index)
        self.focus()

    def focus(self) -> None:
        for dialog in self.window.findChildren(ShortcutsDialog):
            dialog.close()
        if not self.window.isVisible():
            self.window.show()
            self.qtbot.waitExposed(self.window)
        self.window.activateWindow()
        self.window.view.setFocus()
        self.qtbot.waitUntil(lambda: QApplication.activeWindow() is self.window)

    def press(self, combination: QKeyCombination) -> None:
        QTest.keyClick(self.window.view, combination.key(), combination.keyboardModifiers())

    def scroll(self) -> tuple[int, int]:
        return scroll_of(self.window.view)


@pytest.fixture
def viewer(qtbot, images, tmp_path, monkeypatch) -> Viewer:
    record = Viewer(qtbot, None, images, tmp_path)  # type: ignore[arg-type]
    window = ImageViewerWindow(sample_opener=record.opened_cells.append, compare_opener=record.compared.append)
    record.window = window
    qtbot.addWidget(window)
    window.resize(1100, 800)
    window.show()
    qtbot.waitExposed(window)

    # The file dialogs are modal and would wait for a user, so they return
    # the file names that a check put into the record instead.
    def open_names(*_args: object) -> tuple[list[str], str]:
        record.file_dialogs.append("open")
        return list(record.open_answer), ""

    def save_name(*_args: object) -> tuple[str, str]:
        record.file_dialogs.append("save")
        return record.save_answer, ""

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", open_names)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_name)
    record.show(GRID)
    return record


def listed_rows(window: Any) -> list[tuple[str, str]]:
    dialog = window.show_shortcuts()
    rows = dialog.rows()
    dialog.close()
    return rows


def parse_keys(text: str) -> list[QKeyCombination]:
    """Return the first key combination of each " or "-separated sequence in ``text``."""
    combinations = []
    for part in text.split(KEY_SEPARATOR):
        sequence = QKeySequence.fromString(part, QKeySequence.SequenceFormat.NativeText)
        assert sequence.count() == 1, f"{part!r} is not one key combination"
        assert sequence.toString(QKeySequence.SequenceFormat.NativeText) == part
        combinations.append(sequence[0])
    return combinations


def row_keys(rows: list[tuple[str, str]], label: str) -> list[QKeyCombination]:
    matches = [keys for keys, action in rows if action == label]
    assert len(matches) == 1, f"the shortcuts list has {len(matches)} rows for {label!r}"
    return parse_keys(matches[0])


# Checks of the action rows, keyed by the action text -------------------------------


def check_open(v: Viewer, press: Callable[[], None]) -> None:
    v.show(GRID)
    v.open_answer = [str(v.images[SMALL])]
    with v.qtbot.waitSignal(v.window.image_loaded, timeout=LOAD_TIMEOUT_MS):
        press()
    assert v.file_dialogs[-1] == "open"
    assert v.window.paths() == [v.images[SMALL]]


def check_save(v: Viewer, press: Callable[[], None]) -> None:
    v.show(GRID)
    dest = v.tmp_path / f"saved-{len(v.file_dialogs)}.jpg"
    v.save_answer = str(dest)
    with v.qtbot.waitSignal(v.window.saved, timeout=LOAD_TIMEOUT_MS):
        press()
    assert v.file_dialogs[-1] == "save"
    assert dest.read_bytes() == v.images[GRID].read_bytes()


def check_copy(v: Viewer, press: Callable[[], None]) -> None:
    v.show(SMALL)
    QGuiApplication.clipboard().clear()
    press()
    copied = QGuiApplication.clipboard().image()
    assert (copied.width(), copied.height()) == (77, 33)


def check_close(v: Viewer, press: Callable[[], None]) -> None:
    v.show(GRID)
    press()
    assert not v.window.isVisible()


def check_previous(v: Viewer, press: Callable[[], None]) -> None:
    v.show(GRID)
    with v.qtbot.waitSignal(v.window.image_loaded, timeout=LOAD_TIMEOUT_MS):
        press()
    assert v.window.current_index() == PHOTO


def check_next(v: Viewer, press: Callable[[], None]) -> None:
    v.show(GRID)
    with v.qtbot.waitSignal(v.window.image_loaded, timeout=LOAD_TIMEOUT_MS):
        press()
    assert v.window.current_index() == SMALL


def check_fit(v: Viewer, press: Callable[[], None]) -> None:
    v.show(PHOTO)
    v.window.view.zoom_actual()
    press()
    assert v.window.view.is_fit()
    assert v.window.view.zoom() == pytest.approx(v.window.view.fit_zoom())
    assert v.window.view.zoom() < 0.5


def check_actual(v: Viewer, press: Callable[[], None]) -> None:
    v.show(PHOTO)
    press()
    assert v.window.view.zoom() == pytest.approx(1.0)
    assert not v.window.view.is_fit()


def check_zoom_in(v: Viewer, press: Callable[[], None]) -> None:
    v.show(PHOTO)
    v.window.view.zoom_actual()
    press()
    assert v.window.view.zoom() == pytest.approx(1.25)


def check_zoom_out(v: Viewer, press: Callable[[], None]) -> None:
    v.show(PHOTO)
    v.window.view.zoom_actual()
    press()
    assert v.window.view.zoom() == pytest.approx(0.8)


def check_compare(v: Viewer, press: Callable[[], None]) -> None:
    v.show(GRID)
    before = len(v.compared)
    press()
    assert v.compared[before:] == [v.images[GRID]]


def check_shortcuts(v: Viewer, press: Callable[[], None]) -> None:
    v.show(GRID)
    press()
    dialogs = [dialog for dialog in v.window.findChildren(ShortcutsDialog) if dialog.isVisible()]
    assert len(dialogs) == 1
    assert dialogs[0].windowTitle() == "Image viewer shortcuts"


ACTION_CHECKS: dict[str, Callable[[Viewer, Callable[[], None]], None]] = {
    "Open…": check_open,
    "Save as…": check_save,
    "Copy image": check_copy,
    "Close": check_close,
    "Previous image": check_previous,
    "Next image": check_next,
    "Fit to window": check_fit,
    "100 %": check_actual,
    "Zoom in": check_zoom_in,
    "Zoom out": check_zoom_out,
    "Compare with…": check_compare,
    "Keyboard shortcuts": check_shortcuts,
}


# Checks of the rows for keys without an action, keyed by the keys text -------------


def show_photo_at_actual_size(v: Viewer) -> None:
    v.show(PHOTO)
    v.window.view.zoom_actual()
    v.window.view.set_relative_center(0.5, 0.5)


def show_grid_with_highlight(v: Viewer, row: int, column: int) -> Any:
    v.show(GRID)
    cell = v.window.overlay.sidecar.cell_at_position(row, column)
    v.window.overlay.highlight(cell)
    return cell


def cell_point(v: Viewer, cell: Any) -> QPoint:
    rect = v.window.overlay.cell_rect(cell)
    return v.window.view.mapFromScene(rect.center())


def scroll_of(view: ImageView) -> tuple[int, int]:
    return view.horizontalScrollBar().value(), view.verticalScrollBar().value()


def assert_wheel_zooms(view: ImageView) -> None:
    """Turn the wheel one notch up over ``view``, shown at 100 %, and check it zoomed in one step."""
    viewport = view.viewport()
    cursor = QPointF(viewport.rect().center())
    wheel = QWheelEvent(
        cursor, QPointF(viewport.mapToGlobal(cursor.toPoint())), QPoint(0, 0), QPoint(0, 120),
        Qt.MouseButton.NoButton, NO_MODIFIER, Qt.ScrollPhase.NoScrollPhase, False,
    )
    QApplication.sendEvent(viewport, wheel)
    assert view.zoom() == pytest.approx(1.25)


def assert_drag_pans(view: ImageView) -> None:
    """Drag across ``view``, shown at 100 % and scrollable, and check it scrolled by the drag distance."""
    viewport = view.viewport()
    start = viewport.rect().center()
    end = start - QPoint(120, 80)
    before = scroll_of(view)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, NO_MODIFIER, start)
    move = QMouseEvent(
        QEvent.Type.MouseMove, QPointF(end), QPointF(viewport.mapToGlobal(end)),
        Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton, NO_MODIFIER,
    )
    QApplication.sendEvent(viewport, move)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, NO_MODIFIER, end)
    after = scroll_of(view)
    assert after[0] - before[0] == 120
    assert after[1] - before[1] == 80


def assert_arrows_scroll(view: ImageView) -> None:
    """Press each arrow key on ``view``, scrollable both ways, and check it scrolled that way."""
    moves = {
        Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Down: (0, 1), Qt.Key.Key_Up: (0, -1),
    }
    for key, (dx, dy) in moves.items():
        before = scroll_of(view)
        QTest.keyClick(view, key)
        after = scroll_of(view)
        assert (after[0] - before[0]) * dx > 0 or dx == 0, f"{key!r} did not scroll across"
        assert (after[1] - before[1]) * dy > 0 or dy == 0, f"{key!r} did not scroll down or up"


def assert_pages_scroll(view: ImageView) -> None:
    """Press Page Down then Page Up on ``view``, scrollable, and check each moved one page."""
    bar = view.verticalScrollBar()
    bar.setValue(0)
    QTest.keyClick(view, Qt.Key.Key_PageDown)
    assert bar.value() == min(bar.pageStep(), bar.maximum())
    QTest.keyClick(view, Qt.Key.Key_PageUp)
    assert bar.value() == 0


def check_wheel(v: Viewer) -> None:
    show_photo_at_actual_size(v)
    assert_wheel_zooms(v.window.view)


def check_drag(v: Viewer) -> None:
    show_photo_at_actual_size(v)
    assert_drag_pans(v.window.view)


def check_arrow_scroll(v: Viewer) -> None:
    show_photo_at_actual_size(v)
    assert_arrows_scroll(v.window.view)


def check_page_scroll(v: Viewer) -> None:
    show_photo_at_actual_size(v)
    assert_pages_scroll(v.window.view)


def check_grid_arrows(v: Viewer) -> None:
    show_grid_with_highlight(v, 0, 0)
    overlay = v.window.overlay
    for key, expected in [
        (Qt.Key.Key_Right, (0, 1)), (Qt.Key.Key_Down, (1, 1)), (Qt.Key.Key_Left, (1, 0)), (Qt.Key.Key_Up, (0, 0)),
    ]:
        QTest.keyClick(v.window.view, key)
        assert (overlay.highlighted.row, overlay.highlighted.column) == expected


def check_grid_return(v: Viewer) -> None:
    for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
        cell = show_grid_with_highlight(v, 1, 2)
        before = len(v.opened_cells)
        QTest.keyClick(v.window.view, key)
        assert v.opened_cells[before:] == [cell]


def check_grid_escape(v: Viewer) -> None:
    show_grid_with_highlight(v, 0, 1)
    QTest.keyClick(v.window.view, Qt.Key.Key_Escape)
    assert v.window.overlay.highlighted is None
    assert v.window.view.highlight_rect() is None


def check_grid_click(v: Viewer) -> None:
    v.show(GRID)
    cell = v.window.overlay.sidecar.cell_at_position(1, 1)
    before = len(v.opened_cells)
    QTest.mouseClick(v.window.view.viewport(), Qt.MouseButton.LeftButton, NO_MODIFIER, cell_point(v, cell))
    assert v.opened_cells[before:] == [cell]


def check_grid_pointer(v: Viewer) -> None:
    v.show(GRID)
    cell = v.window.overlay.sidecar.cell_at_position(0, 2)
    viewport = v.window.view.viewport()
    position = cell_point(v, cell)
    QApplication.sendEvent(viewport, QHelpEvent(QEvent.Type.ToolTip, position, viewport.mapToGlobal(position)))
    v.qtbot.waitUntil(QToolTip.isVisible)
    text = QToolTip.text()
    QToolTip.hideText()
    assert html.escape(cell.prompt) in text
    assert str(cell.step) in text


# (check, keys the check covers, which the sweep of unlisted keys leaves out)
EXTRA_CHECKS: dict[str, tuple[Callable[[Viewer], None], list[Qt.Key]]] = {
    "Mouse wheel": (check_wheel, []),
    "Drag": (check_drag, []),
    "Arrow keys": (check_arrow_scroll, ARROWS),
    "Page Up or Page Down": (check_page_scroll, [Qt.Key.Key_PageUp, Qt.Key.Key_PageDown]),
    "Arrow keys on a grid": (check_grid_arrows, ARROWS),
    "Return or Enter on a grid": (check_grid_return, [Qt.Key.Key_Return, Qt.Key.Key_Enter]),
    "Esc on a grid": (check_grid_escape, [Qt.Key.Key_Escape]),
    "Click on a grid": (check_grid_click, []),
    "Pointer on a grid": (check_grid_pointer, []),
}


# The list matches the code ----------------------------------------------------------


def test_every_row_has_a_check(viewer):
    rows = listed_rows(viewer.window)

    action_rows = [action for keys, action in rows if keys not in EXTRA_CHECKS]
    extra_rows = [keys for keys, action in rows if keys in EXTRA_CHECKS]
    assert sorted(action_rows) == sorted(ACTION_CHECKS)
    assert sorted(extra_rows) == sorted(EXTRA_CHECKS)


def test_every_shortcut_action_listed(viewer):
    rows = listed_rows(viewer.window)

    for action in viewer.window.findChildren(QAction):
        if action.shortcuts():
            keys = [combination.toCombined() for combination in row_keys(rows, action_label(action))]
            assert keys == [sequence[0].toCombined() for sequence in action.shortcuts()]


@pytest.mark.parametrize("label", sorted(ACTION_CHECKS))
def test_listed_action_key_works(viewer, label):
    combinations = row_keys(listed_rows(viewer.window), label)

    assert combinations
    for combination in combinations:
        ACTION_CHECKS[label](viewer, lambda: viewer.press(combination))


@pytest.mark.parametrize("keys", sorted(EXTRA_CHECKS))
def test_listed_extra_row_works(viewer, keys):
    check, _covered = EXTRA_CHECKS[keys]

    check(viewer)


def viewer_state(v: Viewer) -> dict[str, Any]:
    window = v.window
    highlight = window.view.highlight_rect()
    return {
        "index": window.current_index(),
        "paths": window.paths(),
        "zoom": round(window.view.zoom(), 6),
        "fit": window.view.is_fit(),
        "scroll": v.scroll(),
        "highlight": highlight.getRect() if highlight is not None else None,
        "visible": window.isVisible(),
        "windows": sorted(widget.objectName() + type(widget).__name__ for widget in QApplication.topLevelWidgets() if widget.isVisible()),
        "dialogs": [dialog.isVisible() for dialog in window.findChildren(ShortcutsDialog)],
        "message": window.statusBar().currentMessage(),
        "focus": QApplication.focusWidget() is window.view,
        "clipboard": QGuiApplication.clipboard().text(),
        "calls": (len(v.compared), len(v.opened_cells), len(v.file_dialogs)),
    }


def listed_combinations(rows: list[tuple[str, str]], extra_checks: dict[str, tuple[Any, list[Qt.Key]]]) -> set[int]:
    """Return the key combinations that ``rows`` list, with the keys their extra-row checks cover."""
    combined = set()
    for keys, _action in rows:
        if keys in extra_checks:
            combined.update(QKeyCombination(key).toCombined() for key in extra_checks[keys][1])
        else:
            combined.update(combination.toCombined() for combination in parse_keys(keys))
    return combined


def is_letter(key: Qt.Key) -> bool:
    return Qt.Key.Key_A.value <= key.value <= Qt.Key.Key_Z.value


def is_listed(combination: QKeyCombination, listed: set[int]) -> bool:
    """Return whether ``combination`` is a listed key, counting Shift plus a listed digit or symbol.

    Some layouts need Shift to type "+", "=" or a digit, so a listed "+" works
    with Shift too. No layout needs Shift for a letter, so Shift+F is not F.
    """
    if combination.toCombined() in listed:
        return True
    key = combination.key()
    shifted = combination.keyboardModifiers() == SHIFT
    return shifted and not is_letter(key) and QKeyCombination(key).toCombined() in listed


def sweep(
    press: Callable[[QKeyCombination], None],
    state: Callable[[], dict[str, Any]],
    prepare: Callable[[], None],
    listed: set[int],
) -> list[str]:
    """Press every unlisted sweep key after ``prepare`` and return those that changed ``state()``."""
    prepare()
    expected = state()
    changed = []
    for modifiers in SWEEP_MODIFIERS:
        for key in SWEEP_KEYS:
            combination = QKeyCombination(modifiers, key)
            if is_listed(combination, listed):
                continue
            press(combination)
            if state() != expected:
                changed.append(QKeySequence(combination).toString())
                prepare()
                expected = state()
    return changed


def test_unlisted_keys_do_nothing(viewer):
    listed = listed_combinations(listed_rows(viewer.window), EXTRA_CHECKS)

    def photo() -> None:
        show_photo_at_actual_size(viewer)
        QGuiApplication.clipboard().setText("sweep")

    def grid() -> None:
        show_grid_with_highlight(viewer, 0, 1)
        viewer.window.view.set_zoom(4.0)
        QGuiApplication.clipboard().setText("sweep")

    assert sweep(viewer.press, lambda: viewer_state(viewer), photo, listed) == []
    assert sweep(viewer.press, lambda: viewer_state(viewer), grid, listed) == []


# The compare window ------------------------------------------------------------------


@pytest.fixture
def compare(qtbot, images) -> CompareWindow:
    """A shown compare window with the large photo on both sides, unlinked, the right view focused."""
    window = CompareWindow()
    qtbot.addWidget(window)
    window.resize(1100, 700)
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignals([window.left.image_loaded, window.right.image_loaded], timeout=LOAD_TIMEOUT_MS):
        window.set_images(images, PHOTO, PHOTO)
    window.set_linked(False)
    focus_compare(qtbot, window)
    return window


def focus_compare(qtbot, window: CompareWindow) -> None:
    """Close the shortcuts dialog, show the window and give the right view the keyboard focus."""
    for dialog in window.findChildren(ShortcutsDialog):
        dialog.close()
    if not window.isVisible():
        window.show()
        qtbot.waitExposed(window)
    window.activateWindow()
    window.right.view.setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    for pane in (window.left, window.right):
        pane.view.zoom_actual()
        pane.view.set_relative_center(0.5, 0.5)


def check_compare_close(window: CompareWindow, press: Callable[[], None]) -> None:
    press()
    assert not window.isVisible()


def check_compare_fit(window: CompareWindow, press: Callable[[], None]) -> None:
    press()
    assert window.right.view.is_fit()
    assert window.right.view.zoom() < 0.5
    assert window.left.view.zoom() == pytest.approx(1.0)


def check_compare_actual(window: CompareWindow, press: Callable[[], None]) -> None:
    window.right.view.fit_to_window()
    press()
    assert window.right.view.zoom() == pytest.approx(1.0)
    assert window.left.view.zoom() == pytest.approx(1.0)


def check_compare_zoom_in(window: CompareWindow, press: Callable[[], None]) -> None:
    press()
    assert window.right.view.zoom() == pytest.approx(1.25)
    assert window.left.view.zoom() == pytest.approx(1.0)


def check_compare_zoom_out(window: CompareWindow, press: Callable[[], None]) -> None:
    press()
    assert window.right.view.zoom() == pytest.approx(0.8)
    assert window.left.view.zoom() == pytest.approx(1.0)


def check_compare_shortcuts(window: CompareWindow, press: Callable[[], None]) -> None:
    press()
    dialogs = [dialog for dialog in window.findChildren(ShortcutsDialog) if dialog.isVisible()]
    assert len(dialogs) == 1
    assert dialogs[0].windowTitle() == "Compare shortcuts"


# The zoom checks run unlinked with the focus on the right view, so they show
# that a zoom key acts on the focused side only.
COMPARE_ACTION_CHECKS: dict[str, Callable[[CompareWindow, Callable[[], None]], None]] = {
    "Close": check_compare_close,
    "Fit to window": check_compare_fit,
    "100 %": check_compare_actual,
    "Zoom in": check_compare_zoom_in,
    "Zoom out": check_compare_zoom_out,
    "Keyboard shortcuts": check_compare_shortcuts,
}


def check_compare_click(window: CompareWindow) -> None:
    for pane in (window.left, window.right):
        QTest.mouseClick(pane.view.viewport(), Qt.MouseButton.LeftButton, NO_MODIFIER, pane.view.viewport().rect().center())
        assert window.focused_pane() is pane
        QTest.keyClick(pane.view, Qt.Key.Key_Plus)
        assert pane.view.zoom() == pytest.approx(1.25)
        pane.view.zoom_actual()
    assert window.left.view.zoom() == pytest.approx(1.0)


COMPARE_EXTRA_CHECKS: dict[str, tuple[Callable[[CompareWindow], None], list[Qt.Key]]] = {
    "Click on an image": (check_compare_click, []),
    "Mouse wheel": (lambda window: assert_wheel_zooms(window.right.view), []),
    "Drag": (lambda window: assert_drag_pans(window.right.view), []),
    "Arrow keys": (lambda window: assert_arrows_scroll(window.right.view), ARROWS),
    "Page Up or Page Down": (lambda window: assert_pages_scroll(window.right.view), [Qt.Key.Key_PageUp, Qt.Key.Key_PageDown]),
}


def test_compare_rows_have_checks(compare):
    rows = listed_rows(compare)

    action_rows = [action for keys, action in rows if keys not in COMPARE_EXTRA_CHECKS]
    extra_rows = [keys for keys, action in rows if keys in COMPARE_EXTRA_CHECKS]
    assert sorted(action_rows) == sorted(COMPARE_ACTION_CHECKS)
    assert sorted(extra_rows) == sorted(COMPARE_EXTRA_CHECKS)


def test_compare_shortcut_actions_listed(compare):
    rows = listed_rows(compare)

    for action in compare.findChildren(QAction):
        if action.shortcuts():
            keys = [combination.toCombined() for combination in row_keys(rows, action_label(action))]
            assert keys == [sequence[0].toCombined() for sequence in action.shortcuts()]


@pytest.mark.parametrize("label", sorted(COMPARE_ACTION_CHECKS))
def test_compare_action_key_works(qtbot, compare, label):
    combinations = row_keys(listed_rows(compare), label)

    assert combinations
    for combination in combinations:
        focus_compare(qtbot, compare)
        press = lambda: QTest.keyClick(compare.right.view, combination.key(), combination.keyboardModifiers())  # noqa: E731
        COMPARE_ACTION_CHECKS[label](compare, press)


@pytest.mark.parametrize("keys", sorted(COMPARE_EXTRA_CHECKS))
def test_compare_extra_row_works(qtbot, compare, keys):
    check, _covered = COMPARE_EXTRA_CHECKS[keys]
    focus_compare(qtbot, compare)

    check(compare)


def compare_state(window: CompareWindow) -> dict[str, Any]:
    return {
        "zoom": [round(pane.view.zoom(), 6) for pane in (window.left, window.right)],
        "fit": [pane.view.is_fit() for pane in (window.left, window.right)],
        "scroll": [scroll_of(pane.view) for pane in (window.left, window.right)],
        "choice": [pane.chooser.currentIndex() for pane in (window.left, window.right)],
        "linked": window.linked,
        "visible": window.isVisible(),
        "windows": sorted(widget.objectName() + type(widget).__name__ for widget in QApplication.topLevelWidgets() if widget.isVisible()),
        "dialogs": [dialog.isVisible() for dialog in window.findChildren(ShortcutsDialog)],
        "focus": QApplication.focusWidget() is window.right.view,
    }


def test_compare_unlisted_keys_do_nothing(qtbot, compare):
    listed = listed_combinations(listed_rows(compare), COMPARE_EXTRA_CHECKS)

    def press(combination: QKeyCombination) -> None:
        QTest.keyClick(compare.right.view, combination.key(), combination.keyboardModifiers())

    changed = sweep(press, lambda: compare_state(compare), lambda: focus_compare(qtbot, compare), listed)

    assert changed == []


# Toolbar, tooltips and menus -----------------------------------------------------------


def test_tooltips_name_the_keys(viewer, compare):
    actions = viewer.window.findChildren(QAction) + compare.findChildren(QAction)
    with_keys = [action for action in actions if action.shortcuts()]

    # 12 viewer actions and 6 compare actions have keys.
    assert len(with_keys) == 18
    for action in with_keys:
        keys = key_text(action.shortcuts())
        assert action.toolTip().splitlines()[0] == f"{action_label(action)} ({keys})"


def test_toolbar_buttons_show_text(viewer):
    buttons = [
        (toolbar, action, toolbar.widgetForAction(action))
        for toolbar in viewer.window.toolbars
        for action in toolbar.actions()
    ]

    assert {action for _toolbar, action, _button in buttons} >= {viewer.window.save_action, viewer.window.folder_action}
    for toolbar, action, button in buttons:
        assert button.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon
        assert button.text() == action.iconText()
        assert len(button.text()) >= 3


@pytest.mark.parametrize(("width", "rows"), [(1100, 1), (720, 2), (520, 2)])
def test_toolbar_wraps_without_hiding(qtbot, viewer, width, rows):
    window = viewer.window
    window.resize(width, 600)
    qtbot.waitUntil(lambda: window.width() == width)
    window.layout().activate()

    tops = {toolbar.y() for toolbar in window.toolbars}
    assert len(tops) == rows
    for toolbar in window.toolbars:
        assert toolbar.geometry().right() < width
        for action in toolbar.actions():
            button = toolbar.widgetForAction(action)
            assert button.isVisible(), f"{action.iconText()} is hidden at {width} px"
            assert toolbar.rect().contains(button.geometry())


@pytest.mark.parametrize("fixture", ["viewer", "compare"])
def test_help_menu_opens_list(request, fixture):
    shown = request.getfixturevalue(fixture)
    window = shown.window if isinstance(shown, Viewer) else shown
    menus = {action.text(): action.menu() for action in window.menuBar().actions()}

    assert window.shortcuts_action in menus["&Help"].actions()
    window.shortcuts_action.trigger()
    assert [dialog.isVisible() for dialog in window.findChildren(ShortcutsDialog)] == [True]


def test_no_toolbar_button_hidden_at_any_width(qtbot, viewer):
    window = viewer.window
    widest = max(toolbar.sizeHint().width() for toolbar in window.toolbars)
    hidden = []

    for width in range(widest + 1, 1300, 20):
        window.resize(width, 600)
        qtbot.waitUntil(lambda: window.width() == width)
        window.layout().activate()
        for toolbar in window.toolbars:
            hidden += [(width, action.iconText()) for action in toolbar.actions() if not toolbar.widgetForAction(action).isVisible()]

    assert hidden == []
