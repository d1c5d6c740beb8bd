"""Validation sample file names written by SimpleTuner.

SimpleTuner saves validation samples in ``<output_dir>/validation_images/``
under one of two name schemes:

- older: ``step_<N>_<shortname>_<W>x<H>.png``
- newer: ``step_<N>_<shortname>_<index>_<W>x<H>.<png|webp|jpg>``

Video models write ``.mp4`` files under the same names. A shortname may
contain underscores (``character_full_body``), so a name is parsed from both
ends: the step after ``step_``, the resolution at the end, and then an
optional index just before the resolution.

Index rule: when the part between the step and the resolution has more than
one ``_``-separated segment and its last segment is all digits, that segment
is the index and the rest is the shortname. So ``step_10_pose_2_512x512.png``
has shortname ``pose`` and index 2, even if the prompt library calls the
prompt ``pose_2``; the name alone cannot tell the two apart. A middle part
made of one segment is always the shortname (``step_10_42_512x512.png`` has
shortname ``42`` and no index).

Only the standard library is used; nothing here opens the image files.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

log = logging.getLogger(__name__)

SAMPLES_FOLDER = "validation_images"
IMAGE_EXTENSIONS = ("png", "webp", "jpg", "jpeg")
VIDEO_EXTENSIONS = ("mp4",)

# step_<N>_<middle>_<W>x<H>.<ext>, where <middle> is "<shortname>" or "<shortname>_<index>".
# DOTALL and \Z: a shortname may contain a newline, which Linux allows in file names.
_NAME_PATTERN = re.compile(
    r"^step_(?P<step>\d+)_(?P<middle>.+)_(?P<width>\d+)x(?P<height>\d+)\.(?P<ext>[A-Za-z0-9]+)\Z", re.DOTALL
)
_DIGITS = re.compile(r"^\d+$")
_NATURAL_CHUNK = re.compile(r"(\d+)")


@dataclass(frozen=True)
class Sample:
    """One validation sample file and the fields parsed from its name.

    ``width`` and ``height`` are the resolution in the name, in pixels. The
    file itself may be wider when SimpleTuner saved a side-by-side composite.
    ``ext`` is the lower-case extension without the dot.
    """

    path: str
    name: str
    step: int
    shortname: str
    index: Optional[int]
    width: int
    height: int
    ext: str
    is_video: bool

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class SampleListing:
    """Samples of one output folder, plus the file names that did not parse."""

    samples: List[Sample] = field(default_factory=list)
    unrecognised: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "samples": [sample.to_dict() for sample in self.samples],
            "unrecognised": list(self.unrecognised),
        }


def natural_key(text: str) -> Tuple[Any, ...]:
    """Return a sort key that orders digit runs by value (``a2`` before ``a10``)."""
    parts: List[Any] = []
    for chunk in _NATURAL_CHUNK.split(text):
        if chunk.isdigit():
            parts.append((0, int(chunk), chunk))
        else:
            parts.append((1, chunk.casefold(), chunk))
    return tuple(parts)


def parse_sample_name(name: str, folder: str = "") -> Optional[Sample]:
    """Parse one file name; return None when it matches neither scheme.

    ``folder`` only builds ``Sample.path``. Extensions other than the image
    and video ones listed in this module make the name unrecognised.
    """
    match = _NAME_PATTERN.match(name)
    if match is None:
        return None
    ext = match.group("ext").lower()
    if ext not in IMAGE_EXTENSIONS and ext not in VIDEO_EXTENSIONS:
        return None
    shortname, index = _split_index(match.group("middle"))
    if not shortname:
        return None
    return Sample(
        path=os.path.join(folder, name) if folder else name,
        name=name,
        step=int(match.group("step")),
        shortname=shortname,
        index=index,
        width=int(match.group("width")),
        height=int(match.group("height")),
        ext=ext,
        is_video=ext in VIDEO_EXTENSIONS,
    )


def _split_index(middle: str) -> Tuple[str, Optional[int]]:
    head, sep, tail = middle.rpartition("_")
    if sep and head and _DIGITS.match(tail):
        return head, int(tail)
    return middle, None


def sample_sort_key(sample: Sample) -> Tuple[Any, ...]:
    """Order by step, then shortname (natural), index, resolution and file name."""
    index = -1 if sample.index is None else sample.index
    return (
        sample.step,
        natural_key(sample.shortname),
        index,
        sample.width,
        sample.height,
        natural_key(sample.name),
    )


def list_samples(output_dir: str) -> SampleListing:
    """List the validation samples in ``<output_dir>/validation_images/``.

    A missing folder gives an empty listing. Regular files whose names match
    neither scheme are returned in ``unrecognised`` (natural order), never
    dropped. Sub-folders are ignored. Raises OSError only when the folder
    exists but cannot be read.
    """
    folder = os.path.join(output_dir, SAMPLES_FOLDER)
    if not os.path.isdir(folder):
        log.debug("no validation samples folder at %s", folder)
        return SampleListing()

    samples: List[Sample] = []
    unrecognised: List[str] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.is_file():
                continue
            sample = parse_sample_name(entry.name, folder)
            if sample is None:
                unrecognised.append(entry.name)
            else:
                samples.append(sample)

    samples.sort(key=sample_sort_key)
    unrecognised.sort(key=natural_key)
    return SampleListing(samples=samples, unrecognised=unrecognised)
