"""The shared byte formatter in ppdesk.units."""

from __future__ import annotations

import math

import pytest

from ppdesk.units import format_bytes

KIB = 1024
MIB = 1024**2
GIB = 1024**3
TIB = 1024**4

CASES = [
    (0, "0 B"),
    (1, "1 B"),
    (512, "512 B"),
    (1023, "1023 B"),
    (1023.4, "1023 B"),
    # 1023.6 B rounds to 1024 B, which is shown as 1.0 KiB.
    (1023.6, "1.0 KiB"),
    (KIB, "1.0 KiB"),
    (1536, "1.5 KiB"),
    (KIB * 1023.96, "1.0 MiB"),
    (MIB - 1, "1.0 MiB"),
    (MIB, "1.0 MiB"),
    (540016640, "515.0 MiB"),
    (1073745834, "1.0 GiB"),
    (3 * GIB, "3.0 GiB"),
    (TIB, "1.0 TiB"),
    (5 * TIB, "5.0 TiB"),
    # TiB is the largest unit, so a larger count keeps growing in TiB.
    (2048 * TIB, "2048.0 TiB"),
    (0.4, "< 1 B"),
    (1e-9, "< 1 B"),
    (-0.4, "< 1 B"),
    (-1, "-1 B"),
    (-1536, "-1.5 KiB"),
    (-3 * GIB, "-3.0 GiB"),
    (None, "unknown"),
    (math.nan, "unknown"),
    (math.inf, "unknown"),
    (-math.inf, "unknown"),
]


@pytest.mark.parametrize(("count", "expected"), CASES)
def test_format_bytes_table(count, expected):
    assert format_bytes(count) == expected


@pytest.mark.parametrize("count", [1, 7, 1000, 1024, 1025, 10**6, 1_048_575, 10**9, 10**12, 10**15])
def test_format_bytes_nonzero_never_zero(count):
    text = format_bytes(count)

    assert not text.startswith("0"), text


def test_format_bytes_unknown_text():
    assert format_bytes(None, unknown_text="") == ""
    assert format_bytes(12, unknown_text="") == "12 B"


def test_cli_progress_bytes_in_binary_units():
    import io

    from rich.console import Console

    from ppdesk.cli_progress import ProgressBar
    from ppdesk.tools.base import ProgressEvent

    bar = ProgressBar(Console(file=io.StringIO(), force_terminal=False))
    with bar:
        bar.update(ProgressEvent(tool="do", config="c", message="downloading", done=1536, total=3 * MIB, unit="bytes"))
        with_total = bar._progress.tasks[0].fields["amount"]
        bar.update(ProgressEvent(tool="do", config="c", message="downloading", done=700, unit="bytes"))
        without_total = bar._progress.tasks[0].fields["amount"]

    assert with_total == "1.5 KiB of 3.0 MiB"
    assert without_total == "700 B"
