"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Qt must never look for a display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]


def _find_shared() -> Path:
    override = os.environ.get("PPDESK_SHARED")
    if override:
        return Path(override)
    return REPO.parent / "shared"


SHARED = _find_shared()
FIXTURES = SHARED / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The read-only fixture folder; copy from it, never write into it."""
    if not FIXTURES.is_dir():
        pytest.fail(f"fixture folder not found: {FIXTURES} (set PPDESK_SHARED to the shared/ folder)")
    return FIXTURES


@pytest.fixture
def copy_fixture(tmp_path: Path, fixtures_dir: Path):
    """Copy a file or folder from the fixtures into ``dest`` (relative to tmp_path)."""

    def copy(relative: str, dest: str | Path) -> Path:
        source = fixtures_dir / relative
        target = Path(dest) if Path(dest).is_absolute() else tmp_path / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
        return target

    return copy
