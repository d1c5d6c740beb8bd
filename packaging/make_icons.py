"""Draw the ppdesk application icon and write it in every format the bundle uses.

Run from the repository root: ``python3 packaging/make_icons.py``. It writes
``ppdesk/resources/icons/``: ``ppdesk.png`` (256 px), ``ppdesk-<size>.png``
for the other sizes that desktop environments request (16 to 512 px), ``ppdesk.ico``
(Windows) and ``ppdesk.icns`` (macOS). The outputs are committed, so a build
needs only this script when the design changes.

The design is a 3 x 3 grid of tiles on a rounded square, one tile
highlighted: the validation grid, with the chosen checkpoint. It uses shapes
only, so it renders the same on any machine whatever fonts are installed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

# Drawn at this size and scaled down, which anti-aliases the edges.
MASTER_SIZE = 1024
PNG_SIZES = (16, 24, 32, 48, 64, 128, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)

BACKGROUND_TOP = (32, 58, 84)
BACKGROUND_BOTTOM = (18, 32, 48)
TILE = (222, 230, 238)
TILE_DIM = (150, 170, 190)
HIGHLIGHT = (255, 170, 51)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO / "ppdesk" / "resources" / "icons"


def draw_master(size: int = MASTER_SIZE) -> Image.Image:
    """Draw the icon as an RGBA image of ``size`` x ``size`` pixels."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    _draw_background(image, size)
    _draw_tiles(ImageDraw.Draw(image), size)
    return image


def _draw_background(image: Image.Image, size: int) -> None:
    # A vertical gradient, masked to a rounded square with a small margin.
    gradient = Image.new("RGBA", (size, size))
    pixels = gradient.load()
    for y in range(size):
        t = y / (size - 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(BACKGROUND_TOP, BACKGROUND_BOTTOM))
        for x in range(size):
            pixels[x, y] = (*colour, 255)

    mask = Image.new("L", (size, size), 0)
    margin = size // 16
    ImageDraw.Draw(mask).rounded_rectangle(
        (margin, margin, size - margin - 1, size - margin - 1),
        radius=size // 5,
        fill=255,
    )
    image.paste(gradient, (0, 0), mask)


def _draw_tiles(draw: ImageDraw.ImageDraw, size: int) -> None:
    # Rows are checkpoints and columns are prompts. The middle row is the chosen checkpoint.
    area = size * 0.56
    gap = area * 0.08
    tile = (area - 2 * gap) / 3
    origin = (size - area) / 2
    radius = round(tile * 0.18)

    for row in range(3):
        for column in range(3):
            left = origin + column * (tile + gap)
            top = origin + row * (tile + gap)
            box = (round(left), round(top), round(left + tile), round(top + tile))
            if row == 1 and column == 2:
                fill = HIGHLIGHT
            elif row == 1:
                fill = TILE
            else:
                fill = TILE_DIM
            draw.rounded_rectangle(box, radius=radius, fill=fill)


def write_icons(output: Path) -> list[Path]:
    """Write every icon file into ``output`` and return the paths written."""
    output.mkdir(parents=True, exist_ok=True)
    master = draw_master()
    written: list[Path] = []

    for size in PNG_SIZES:
        path = output / f"ppdesk-{size}.png"
        master.resize((size, size), Image.LANCZOS).save(path, optimize=True)
        written.append(path)

    main_png = output / "ppdesk.png"
    master.resize((256, 256), Image.LANCZOS).save(main_png, optimize=True)
    written.append(main_png)

    ico = output / "ppdesk.ico"
    master.save(ico, format="ICO", sizes=[(s, s) for s in ICO_SIZES])
    written.append(ico)

    icns = output / "ppdesk.icns"
    master.save(icns, format="ICNS", append_images=[master.resize((s, s), Image.LANCZOS) for s in ICNS_SIZES])
    written.append(icns)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"folder to write the icons into (default: {DEFAULT_OUTPUT})",
    )
    options = parser.parse_args()
    for path in write_icons(options.output):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
