"""Safe image loading for the grid builders.

Every function here turns a file that cannot be drawn into a short error
string instead of an exception: broken or truncated files, empty files, text
named ``.png``, unknown formats and decompression bombs. Pillow's
``DecompressionBombWarning`` is raised as an error while a file is opened, so
an image larger than ``Image.MAX_IMAGE_PIXELS`` is rejected before its pixels
are decoded. JPEG files are decoded at a reduced scale (``draft``) when the
target is small, so a large photo does not need its full size in memory.
PNG and the other formats are decoded at full size before they are scaled.

The loaded image is always RGB: EXIF orientation is applied, CMYK, 16-bit,
palette, greyscale and alpha modes are converted, and transparent pixels are
composited on the given background colour.
"""

from __future__ import annotations

import logging
import math
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

Size = Tuple[int, int]
# A crop box as fractions of the oriented image: (left, top, right, bottom) in 0..1.
FractionBox = Tuple[float, float, float, float]

WHITE = (255, 255, 255)

# EXIF orientations 5 to 8 rotate by 90 or 270 degrees, which swaps width and height.
_EXIF_ORIENTATION_TAG = 0x0112
_SWAPPING_ORIENTATIONS = (5, 6, 7, 8)
_SIXTEEN_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_ALPHA_MODES = ("RGBA", "LA", "La", "RGBa", "PA")

# Exceptions Pillow and its decoders raise for files it cannot read.
_LOAD_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


@dataclass(frozen=True)
class ImageInfo:
    """Header facts of one image file, read without decoding its pixels.

    ``size`` is width and height in pixels after EXIF orientation, or None
    when the file cannot be read. ``error`` is then a short reason.
    """

    path: str
    size: Optional[Size]
    error: Optional[str]


@dataclass
class LoadedImage:
    """An RGB image fitted to a requested box, or the reason it could not be loaded."""

    path: str
    image: Optional[Image.Image]
    error: Optional[str]


def describe_error(exc: BaseException) -> str:
    """Return a short, human-readable reason for a failed image load."""
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return "too many pixels (decompression bomb)"
    if isinstance(exc, UnidentifiedImageError):
        return "not an image Pillow can read"
    if isinstance(exc, MemoryError):
        return "out of memory"
    text = str(exc).strip()
    if "truncated" in text.lower():
        return "truncated file"
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if not text:
        text = type(exc).__name__
    return "unreadable: " + text[:60]


def _precheck(path: str) -> Optional[str]:
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        return describe_error(exc)
    if size == 0:
        return "empty file"
    return None


def _oriented_size(image: Image.Image, header_only: bool = False) -> Size:
    width, height = image.size
    try:
        if header_only and image.format == "PNG" and "exif" not in image.info:
            # Pillow (checked with 13.0) decodes every pixel of a PNG in
            # getexif() to look for an eXIf chunk after the image data.
            # NOTE: such a late chunk is ignored here, so a rotated PNG that
            # stores its orientation there is planned with unrotated sizes.
            orientation = None
        else:
            orientation = image.getexif().get(_EXIF_ORIENTATION_TAG)
    except _LOAD_ERRORS:
        orientation = None
    if orientation in _SWAPPING_ORIENTATIONS:
        return height, width
    return width, height


def read_info(path: str) -> ImageInfo:
    """Open ``path`` lazily and return its oriented size, or an error reason.

    Only the header is read, so this is cheap even for large files. A
    decompression bomb is reported here, before any pixel is decoded.
    """
    problem = _precheck(path)
    if problem is not None:
        return ImageInfo(path, None, problem)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return ImageInfo(path, _oriented_size(image, header_only=True), None)
    except (*_LOAD_ERRORS, MemoryError) as exc:
        log.warning("cannot read image header of %s: %s", path, exc)
        return ImageInfo(path, None, describe_error(exc))


def fit_size(size: Size, box: Size) -> Size:
    """Scale ``size`` to fit inside ``box`` keeping its aspect ratio (never below 1 px)."""
    width, height = size
    box_width, box_height = box
    scale = min(box_width / width, box_height / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def to_rgb(image: Image.Image, background: Tuple[int, int, int] = WHITE) -> Image.Image:
    """Convert any Pillow mode to RGB, compositing transparency on ``background``.

    16-bit and float greyscale images are scaled to 8 bits by their maximum
    value, because a plain conversion clips everything above 255 to white.
    """
    if image.mode in _SIXTEEN_BIT_MODES:
        image = _sixteen_bit_to_l(image)
    if image.mode == "P" or (image.mode in ("L", "RGB") and "transparency" in image.info):
        image = image.convert("RGBA")
    if image.mode == "CMYK":
        return image.convert("RGB")
    if image.mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, background)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def _sixteen_bit_to_l(image: Image.Image) -> Image.Image:
    source = image.convert("F") if image.mode == "F" else image.convert("I")
    low, high = source.getextrema()
    if high is None or high <= 255:
        return source.convert("L")
    factor = 255.0 / float(high)
    return source.point(lambda value: value * factor).convert("L")


def _apply_fraction_box(image: Image.Image, box: Optional[FractionBox]) -> Image.Image:
    if box is None:
        return image
    width, height = image.size
    left = min(width - 1, max(0, math.floor(box[0] * width)))
    top = min(height - 1, max(0, math.floor(box[1] * height)))
    right = max(left + 1, min(width, math.ceil(box[2] * width)))
    bottom = max(top + 1, min(height, math.ceil(box[3] * height)))
    return image.crop((left, top, right, bottom))


def load_fitted(
    path: str,
    box: Size,
    crop: Optional[Callable[[Size], Optional[FractionBox]]] = None,
    background: Tuple[int, int, int] = WHITE,
) -> LoadedImage:
    """Load ``path`` as RGB, scaled down to fit inside ``box`` (width, height in pixels).

    ``crop`` receives the oriented size of the file and returns a fractional
    crop box or None; the crop is applied before fitting. Images smaller than
    ``box`` are scaled up to fit it. An unreadable file gives a result with
    ``image=None`` and a short ``error`` instead of an exception. Only an
    exception raised by ``crop`` itself is passed on.
    """
    problem = _precheck(path)
    if problem is not None:
        return LoadedImage(path, None, problem)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                fitted = _decode_and_fit(image, box, crop, background)
        return LoadedImage(path, fitted, None)
    except (*_LOAD_ERRORS, MemoryError) as exc:
        log.warning("cannot load image %s: %s", path, exc)
        return LoadedImage(path, None, describe_error(exc))


def _decode_and_fit(
    image: Image.Image,
    box: Size,
    crop: Optional[Callable[[Size], Optional[FractionBox]]],
    background: Tuple[int, int, int],
) -> Image.Image:
    oriented = _oriented_size(image)
    fraction = crop(oriented) if crop is not None else None
    region = oriented
    if fraction is not None:
        region = (
            max(1, round((fraction[2] - fraction[0]) * oriented[0])),
            max(1, round((fraction[3] - fraction[1]) * oriented[1])),
        )
    target = fit_size(region, box)

    # draft() lets the JPEG decoder skip detail: request the whole file at the
    # same scale as the target, so the cropped region still covers the target.
    if image.format == "JPEG":
        scale = target[0] / region[0]
        stored = image.size
        image.draft("RGB", (math.ceil(stored[0] * scale), math.ceil(stored[1] * scale)))

    image.load()
    oriented_image = ImageOps.exif_transpose(image)
    cropped = _apply_fraction_box(oriented_image, fraction)
    rgb = to_rgb(cropped, background)
    if rgb.size != target:
        rgb = rgb.resize(target, Image.LANCZOS, reducing_gap=3.0)
    return rgb
