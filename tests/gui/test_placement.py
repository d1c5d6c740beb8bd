"""Where secondary windows open relative to the main window."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize

from ppdesk.gui.placement import BESIDE_GAP, CASCADE_OFFSET, placement_rect

SCREEN = QRect(0, 0, 2560, 1440)


def test_wide_screen_places_beside():
    anchor = QRect(100, 50, 1180, 780)

    rect = placement_rect(QSize(1100, 800), anchor, SCREEN)

    assert rect == QRect(100 + 1180 + BESIDE_GAP, 50, 1100, 800)


def test_left_side_when_right_is_full():
    anchor = QRect(1300, 50, 1180, 780)

    rect = placement_rect(QSize(1100, 800), anchor, SCREEN)

    assert rect == QRect(1300 - BESIDE_GAP - 1100, 50, 1100, 800)


def test_narrow_screen_offsets_from_anchor():
    screen = QRect(0, 0, 1400, 900)
    anchor = QRect(0, 0, 1180, 780)

    rect = placement_rect(QSize(1100, 800), anchor, screen)

    assert rect.topLeft() != anchor.topLeft()
    assert rect.topLeft().x() == CASCADE_OFFSET
    assert rect.topLeft().y() == CASCADE_OFFSET
    assert screen.contains(rect)


def test_screen_smaller_than_window_shrinks():
    screen = QRect(0, 0, 800, 600)
    anchor = QRect(0, 0, 800, 600)

    rect = placement_rect(QSize(1100, 800), anchor, screen)

    assert rect == QRect(CASCADE_OFFSET, CASCADE_OFFSET, 800 - CASCADE_OFFSET, 600 - CASCADE_OFFSET)


def test_second_screen_origin():
    screen = QRect(1920, 0, 1400, 900)
    anchor = QRect(2400, 100, 900, 700)

    rect = placement_rect(QSize(1100, 800), anchor, screen)

    assert screen.contains(rect)
    assert rect.topLeft() != anchor.topLeft()
