"""Family grouping and natural ordering of config names.

A family is the prefix before the first ``_`` of a config name's last
segment: ``sofia_001_lr1e-4`` and ``examples/sofia_002`` both belong to
``sofia``. A last segment without ``_``, or one that starts with ``_``, is a
family of its own.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Tuple

_DIGIT_RUNS = re.compile(r"(\d+)")


def natural_key(text: str) -> Tuple[Any, ...]:
    """Return a sort key that compares digit runs by value, so ``x_2`` sorts before ``x_10``.

    Letters compare case-insensitively first; the original text breaks ties,
    so the order is total and stable across runs.
    """
    # re.split with one capturing group alternates text, digits, text, ...
    # so equal positions always hold the same type and tuples stay comparable.
    parts: List[Any] = []
    for position, chunk in enumerate(_DIGIT_RUNS.split(text)):
        if position % 2 == 1:
            parts.append(int(chunk))
        else:
            parts.append(chunk.casefold())
    return (tuple(parts), text)


def last_segment(name: str) -> str:
    """Return the part of a config name after its last ``/``."""
    return name.rsplit("/", 1)[-1]


def family_of(name: str) -> str:
    """Return the family of a config name (see the module docstring)."""
    segment = last_segment(name)
    prefix = segment.split("_", 1)[0]
    return prefix or segment


def sort_names(names: Iterable[str]) -> List[str]:
    """Return the names in natural order."""
    return sorted(names, key=natural_key)


def group_families(names: Iterable[str]) -> Dict[str, List[str]]:
    """Group config names by family.

    Families and the names inside each family are in natural order; the
    returned dict keeps that order when serialised to JSON.
    """
    groups: Dict[str, List[str]] = {}
    for name in names:
        groups.setdefault(family_of(name), []).append(name)
    return {family: sort_names(groups[family]) for family in sort_names(groups)}
