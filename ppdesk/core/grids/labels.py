"""Text drawing for grid labels and for cells marked as unreadable.

Fonts come from ``ImageFont.load_default(size=...)``, which gives a scalable
font on Pillow 10.1 and newer when FreeType is available. Older Pillow, or a
build without FreeType, falls back to the fixed-size bitmap default font, so
labels are then small but still drawn.
"""

from __future__ import annotations

import logging
import textwrap
from functools import lru_cache
from typing import List, Tuple, Union

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

Font = Union[ImageFont.FreeTypeFont, ImageFont.ImageFont]
Colour = Tuple[int, int, int]

LABEL_COLOUR: Colour = (235, 235, 235)
GRID_BACKGROUND: Colour = (32, 32, 32)
MARKED_CELL_BACKGROUND: Colour = (128, 128, 128)
MARKED_CELL_TEXT: Colour = (255, 255, 255)
MISSING_CELL_BACKGROUND: Colour = (60, 60, 60)


@lru_cache(maxsize=32)
def get_font(size: int) -> Font:
    """Return the default font at ``size`` pixels, or the bitmap default when scaling is unsupported."""
    size = max(6, int(size))
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError, AttributeError) as exc:
        log.debug("scalable default font unavailable (%s), using the bitmap font", exc)
        return ImageFont.load_default()


def text_size(text: str, font: Font) -> Tuple[int, int]:
    """Return the width and height in pixels that ``text`` takes when drawn with ``font``."""
    left, top, right, bottom = font.getbbox(text or " ")
    return max(0, right - left), max(0, bottom - top)


def fit_text(text: str, font_size: int, max_width: int) -> Tuple[str, Font]:
    """Shrink ``font_size`` (down to 8 px) and then shorten ``text`` until it fits ``max_width``."""
    size = font_size
    font = get_font(size)
    while size > 8 and text_size(text, font)[0] > max_width:
        size = max(8, int(size * 0.85))
        font = get_font(size)
    if text_size(text, font)[0] <= max_width:
        return text, font
    shortened = text
    while len(shortened) > 1 and text_size(shortened + "...", font)[0] > max_width:
        shortened = shortened[:-1]
    return shortened + "...", font


def draw_centered(
    draw: ImageDraw.ImageDraw,
    box: Tuple[int, int, int, int],
    text: str,
    font_size: int,
    colour: Colour = LABEL_COLOUR,
) -> None:
    """Draw one line of ``text`` centred in ``box`` (left, top, right, bottom), shrunk to fit its width."""
    left, top, right, bottom = box
    line, font = fit_text(text, font_size, max(1, right - left - 4))
    width, height = text_size(line, font)
    x = left + (right - left - width) // 2
    y = top + (bottom - top - height) // 2
    bbox_left, bbox_top, _, _ = font.getbbox(line or " ")
    draw.text((x - bbox_left, y - bbox_top), line, fill=colour, font=font)


def draw_marked_cell(
    canvas: Image.Image,
    box: Tuple[int, int, int, int],
    reason: str,
    background: Colour = MARKED_CELL_BACKGROUND,
) -> None:
    """Fill ``box`` on ``canvas`` with ``background`` and write ``reason`` in it, wrapped to the cell width."""
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = box
    draw.rectangle((left, top, right - 1, bottom - 1), fill=background)
    width = right - left
    height = bottom - top
    font_size = max(8, min(height // 8, width // 10, 48))
    font = get_font(font_size)
    lines = _wrap_to_width(reason, font, max(1, width - 8))
    line_height = text_size("Ag", font)[1] + max(2, font_size // 4)
    total = line_height * len(lines)
    y = top + max(0, (height - total) // 2)
    for line in lines:
        if y + line_height > bottom:
            break
        draw_centered(draw, (left, y, right, y + line_height), line, font_size, MARKED_CELL_TEXT)
        y += line_height


def _wrap_to_width(text: str, font: Font, max_width: int) -> List[str]:
    average = max(1, text_size("abcdefghij", font)[0] // 10)
    columns = max(4, max_width // average)
    return textwrap.wrap(text, width=columns) or [text]
