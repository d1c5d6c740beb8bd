"""Layer rules: Qt only in gui/, and core/ is self-contained on Python 3.10."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ppdesk"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_qt_imported_only_in_gui():
    offenders = []
    for path in _python_files(PACKAGE):
        if "gui" in path.relative_to(PACKAGE).parts:
            continue
        qt = {name for name in _imports(path) if name.split(".")[0] in {"PySide6", "shiboken6"}}
        if qt:
            offenders.append(f"{path.relative_to(PACKAGE)}: {sorted(qt)}")
    assert offenders == []


def test_core_imports_no_other_ppdesk_package():
    offenders = []
    for path in _python_files(PACKAGE / "core"):
        bad = {name for name in _imports(path) if name == "ppdesk" or name.startswith("ppdesk.")}
        if bad:
            offenders.append(f"{path.relative_to(PACKAGE)}: {sorted(bad)}")
    assert offenders == []


def test_core_third_party_imports_are_pillow_only():
    stdlib = set(sys.stdlib_module_names)
    offenders = []
    for path in _python_files(PACKAGE / "core"):
        for name in _imports(path):
            top = name.split(".")[0]
            if top not in stdlib and top not in {"PIL", "__future__"}:
                offenders.append(f"{path.relative_to(PACKAGE)}: {name}")
    assert offenders == []


def test_core_runs_on_python_310():
    vermin = shutil.which("vermin")
    if vermin is None:
        pytest.fail("vermin is not installed; pip install -e '.[test]'")
    completed = subprocess.run(
        [vermin, "--no-tips", "--violations", "-t=3.10-", "--eval-annotations", "--backport", "typing_extensions", str(PACKAGE / "core")],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
