"""Size limits, scaling and atomic writing shared by the grid builders.

A grid must open everywhere: JPEG stores each side in 16 bits (65,535 pixels
at most), and libjpeg, which Pillow encodes with, rejects sides above 65,500
pixels (its JPEG_MAX_DIMENSION). Pillow also refuses to open images above
``Image.MAX_IMAGE_PIXELS`` (a decompression-bomb guard, about 89 million
pixels by default). The builders keep every grid inside these limits and the
caller's pixel budget by scaling cells down, never by cutting content off.
"""

from __future__ import annotations

import errno
import filecmp
import io
import json
import logging
import math
import os
import tempfile
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, List, Optional, Tuple

from PIL import Image

log = logging.getLogger(__name__)

Size = Tuple[int, int]

JPEG_MAX_SIDE = 65500
DEFAULT_MAX_PIXELS = 80_000_000
JPEG_QUALITY = 90


def pixel_limit(max_pixels: int) -> int:
    """Return the pixel budget: ``max_pixels`` capped at Pillow's decompression-bomb limit."""
    bomb_limit = Image.MAX_IMAGE_PIXELS
    if bomb_limit:
        return max(1, min(int(max_pixels), int(bomb_limit)))
    return max(1, int(max_pixels))


def fits(size: Size, budget: int) -> bool:
    """Tell whether ``size`` is within ``budget`` pixels and the JPEG side limit."""
    width, height = size
    return width * height <= budget and width <= JPEG_MAX_SIDE and height <= JPEG_MAX_SIDE


def find_scale(measure: Callable[[float], Size], budget: int, start: float = 1.0) -> float:
    """Return the largest scale (at most ``start``) for which ``measure(scale)`` fits ``budget``.

    ``measure`` maps a cell scale to the full grid size, labels and gaps
    included, so parts that do not scale linearly are accounted for. The
    search shrinks by the square-root ratio and then bisects. When even the
    smallest scale tried (1e-4) does not fit, that scale is returned and the
    grid exceeds the budget. That happens only when labels and gaps alone
    are larger than the budget.
    """
    scale = start
    size = measure(scale)
    if fits(size, budget):
        return scale

    # Shrink geometrically until the grid fits, then bisect between the two last scales.
    too_big = scale
    for _ in range(60):
        width, height = size
        ratio = min(
            math.sqrt(budget / max(1, width * height)),
            JPEG_MAX_SIDE / max(1, width),
            JPEG_MAX_SIDE / max(1, height),
        )
        too_big = scale
        scale = max(1e-4, scale * min(0.95, ratio))
        size = measure(scale)
        if fits(size, budget) or scale <= 1e-4:
            break
    if not fits(size, budget):
        log.warning("grid of %sx%s px cannot fit %s pixels even at scale %s", size[0], size[1], budget, scale)
        return scale

    good = scale
    for _ in range(20):
        middle = (good + too_big) / 2
        if fits(measure(middle), budget):
            good = middle
        else:
            too_big = middle
        if too_big - good < 1e-3 * too_big:
            break
    return good


def encode_jpeg(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    """Encode ``image`` (RGB) as a baseline JPEG and return the bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    The final name therefore only ever names a complete file. Raises OSError
    when the folder is not writable, after removing the temporary file.
    """
    _write_through_temporary(path, lambda stream: stream.write(data))


def write_jpeg_atomic(path: str, image: Image.Image, quality: int = JPEG_QUALITY) -> None:
    """Encode ``image`` (RGB) as a baseline JPEG straight into ``path``, atomically as :func:`write_atomic` does.

    Encoding into the file instead of into memory keeps the JPEG's bytes
    out of the process, which matters next to a canvas of hundreds of MB.
    """
    _write_through_temporary(path, lambda stream: image.save(stream, format="JPEG", quality=quality))


def _write_through_temporary(path: str, write: Callable[[BinaryIO], object]) -> None:
    """Run ``write`` on a temporary file next to ``path``, sync it, then ``os.replace`` it onto ``path``.

    The temporary file is removed when anything fails, and the error propagates.
    """
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        _remove_quietly(temporary)
        raise


def write_json_atomic(path: str, document: Any) -> None:
    """Write ``document`` as indented UTF-8 JSON to ``path`` atomically (see :func:`write_atomic`)."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    # A file name that is not valid UTF-8 contains lone surrogates. backslashreplace
    # writes each as a \udcXX escape, which a JSON reader turns back into it.
    write_atomic(path, text.encode("utf-8", "backslashreplace"))


# Numbered names tried when publishing; reaching the end means something else is wrong.
MAX_NAME_VARIANTS = 1000


def staging_path(final_path: str) -> str:
    """Return the hidden name a grid is built under before :func:`publish` names it."""
    folder, name = os.path.split(final_path)
    return os.path.join(folder, f".{name}.ppdesk-new")


def numbered_path(path: str, number: int) -> str:
    """Return ``path`` for number 1, else ``"<stem> (<number>)<suffix>"``."""
    if number == 1:
        return path
    stem, suffix = os.path.splitext(path)
    return f"{stem} ({number}){suffix}"


@dataclass
class Published:
    """The final paths of published files, and whether all of them were there already."""

    paths: List[str]
    # True when every final name already held the same content, so this call linked no file.
    unchanged: bool


# Called with (staged path, existing path) of two files whose bytes differ;
# returns True when the existing file still counts as the same content.
SameContent = Callable[[str, str], bool]


def publish_no_clobber(pairs: "list[Tuple[str, str]]") -> "list[str]":
    """Give staged files their final names as :func:`publish` does and return the final paths."""
    return publish(pairs).paths


def publish(pairs: "list[Tuple[str, str]]", also_same: Optional[SameContent] = None) -> Published:
    """Give staged files their final names without replacing a different file.

    ``pairs`` contains (staged path, final path) tuples. The files move together under
    the lowest number whose names are all free or already contain the same
    bytes, so a rerun without changes keeps the old names and a changed grid
    lands beside the old one as ``<stem> (2)<suffix>``. ``also_same`` may
    accept an existing file whose bytes differ, such as a sidecar in an
    older format, and that file then stays as it is. Raises OSError when
    linking fails for another reason than an existing name.
    """
    for number in range(1, MAX_NAME_VARIANTS + 1):
        targets = [numbered_path(final, number) for _, final in pairs]
        if not all(_free_or_same(staged, target, also_same) for (staged, _), target in zip(pairs, targets)):
            continue
        linked = []
        try:
            for (staged, _), target in zip(pairs, targets):
                if os.path.exists(target):
                    continue
                _link_or_rename(staged, target)
                linked.append(target)
        except FileExistsError:
            # Another writer took a name between the check and the link.
            for target in linked:
                _remove_quietly(target)
            continue
        for staged, _ in pairs:
            _remove_quietly(staged)
        return Published(targets, unchanged=not linked)
    raise OSError(f"{MAX_NAME_VARIANTS} different files named like {pairs[0][1]} exist; move old ones away")


def _link_or_rename(staged: str, target: str) -> None:
    """Create ``target`` from ``staged``; raise FileExistsError instead of replacing a file."""
    try:
        os.link(staged, target)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        # NOTE: without hard links the check and the rename are two steps, so a
        # file created between them by another writer would be replaced.
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "file exists", target) from exc
        os.rename(staged, target)


def _free_or_same(staged: str, target: str, also_same: Optional[SameContent]) -> bool:
    if not os.path.lexists(target):
        return True
    if not os.path.isfile(target):
        return False
    if filecmp.cmp(staged, target, shallow=False):
        return True
    return also_same is not None and also_same(staged, target)


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("cannot remove temporary file %s: %s", path, exc)


def paste_centered(canvas: Image.Image, image: Image.Image, box: Tuple[int, int, int, int]) -> Tuple[int, int, int, int]:
    """Paste ``image`` centred in ``box`` (left, top, right, bottom); return the pasted rectangle as x, y, w, h."""
    left, top, right, bottom = box
    width, height = image.size
    x = left + max(0, (right - left - width) // 2)
    y = top + max(0, (bottom - top - height) // 2)
    canvas.paste(image, (x, y))
    return x, y, width, height


def optional_int(value: Any, name: str, default: int, minimum: int = 1) -> int:
    """Validate an integer request argument; raise ValueError naming ``name`` when it is invalid.

    ``None`` gives ``default``. Booleans are rejected because JSON ``true``
    would otherwise pass as 1.
    """
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def optional_bool(value: Any, name: str, default: bool = False) -> bool:
    """Validate a boolean request argument; raise ValueError naming ``name`` when it is not a boolean."""
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def last_segment(config_name: str) -> str:
    """Return the last ``/``-separated segment of a config name (``a/b`` gives ``b``)."""
    return config_name.rstrip("/").rsplit("/", 1)[-1]

