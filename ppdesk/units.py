"""Byte counts as text, shared by the GUI, the command line and tool messages.

Qt-free, so that every layer above ``core`` can import it.
"""

from __future__ import annotations

import math
from typing import Optional

# Binary (IEC) units: each is 1024 times the one before.
BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
UNIT_FACTOR = 1024


def format_bytes(count: Optional[float], unknown_text: str = "unknown") -> str:
    """Format a byte count with binary units: ``512 B``, ``1.5 KiB``, ``2.0 GiB``.

    Counts below 1 KiB are whole bytes. Larger counts get one decimal in the
    largest unit that keeps the number below 1024, up to TiB. A count that
    is not zero never reads as zero: a fraction of a byte (a slow speed, for
    example) gives ``< 1 B``. Negative counts keep their sign. ``None``, NaN
    and infinity give ``unknown_text``.
    """
    if count is None or not math.isfinite(count):
        return unknown_text
    sign = "-" if count < 0 else ""
    value = abs(float(count))
    if 0 < value < 1:
        return "< 1 B"
    if round(value) < UNIT_FACTOR:
        return f"{sign}{round(value)} B"

    value /= UNIT_FACTOR
    for unit in BYTE_UNITS[1:-1]:
        # Compare the rounded number, so 1023.96 KiB shows as 1.0 MiB, not 1024.0 KiB.
        if round(value, 1) < UNIT_FACTOR:
            return f"{sign}{value:.1f} {unit}"
        value /= UNIT_FACTOR
    return f"{sign}{value:.1f} {BYTE_UNITS[-1]}"
