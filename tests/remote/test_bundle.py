"""The core zip application: content, determinism, and that it runs."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from ppdesk.core.layout import WorkspaceLayout
from ppdesk.remote.bundle import build_bundle, core_bundle, core_source_dir

CORE = Path(__file__).resolve().parents[2] / "ppdesk" / "core"


def run_bundle(path: Path, request: dict) -> list[dict]:
    completed = subprocess.run(
        [sys.executable, str(path)],
        input=json.dumps(request).encode(),
        capture_output=True,
        cwd=path.parent,
        timeout=120,
    )
    lines = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    assert lines, completed.stderr.decode(errors="replace")
    return lines


def test_source_dir_is_core_package():
    assert core_source_dir() == CORE


def test_bundle_names_and_hash():
    bundle = core_bundle()
    assert bundle.sha256 == hashlib.sha256(bundle.data).hexdigest()
    assert bundle.filename == f"ppdesk-core-{bundle.sha256[:16]}.pyz"
    assert core_bundle() is bundle


def test_bundle_contains_only_core_sources():
    names = zipfile.ZipFile(BytesIO(core_bundle().data)).namelist()
    assert names == sorted(names)
    assert "__main__.py" in names
    assert "ppdesk/__init__.py" in names
    assert "ppdesk/core/agent.py" in names
    assert "ppdesk/core/grids/__init__.py" in names
    assert all(name.endswith(".py") for name in names)
    assert not any("__pycache__" in name for name in names)
    assert not any(name.startswith(("ppdesk/remote", "ppdesk/gui", "ppdesk/tools")) for name in names)


def test_package_stub_is_empty():
    archive = zipfile.ZipFile(BytesIO(core_bundle().data))
    assert archive.read("ppdesk/__init__.py") == b""


def test_build_is_deterministic(tmp_path: Path):
    copy = tmp_path / "core"
    shutil.copytree(CORE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    first = build_bundle(copy)
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "agent.cpython-311.pyc").write_bytes(b"junk")
    (copy / "notes.txt").write_text("not python")
    second = build_bundle(copy)
    assert first.sha256 == second.sha256
    assert first.data == second.data


def test_hash_changes_with_content(tmp_path: Path):
    copy = tmp_path / "core"
    shutil.copytree(CORE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = build_bundle(copy)
    with open(copy / "layout.py", "a", encoding="utf-8") as handle:
        handle.write("\n# changed\n")
    assert build_bundle(copy).sha256 != before.sha256


def test_missing_sources_raise(tmp_path: Path):
    with pytest.raises(FileNotFoundError) as info:
        build_bundle(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_bundle_runs_probe(tmp_path: Path):
    bundle = core_bundle()
    path = tmp_path / bundle.filename
    path.write_bytes(bundle.data)
    request = {"op": "probe", "layout": WorkspaceLayout.from_root(str(tmp_path)).to_dict(), "args": {}}
    lines = run_bundle(path, request)
    assert lines[-1]["type"] == "result"
    assert lines[-1]["data"]["protocol"] == 1


def test_bundle_runs_scan(tmp_path: Path, copy_fixture):
    if not (CORE / "scan.py").exists():
        pytest.skip("core/scan.py is not written yet")
    workspace = tmp_path / "workspace"
    copy_fixture("simpletuner/flux.peft-lora", workspace / "SimpleTuner" / "config" / "flux.peft-lora")
    bundle = core_bundle()
    path = tmp_path / bundle.filename
    path.write_bytes(bundle.data)
    request = {"op": "scan", "layout": WorkspaceLayout.from_root(str(workspace)).to_dict(), "args": {}}
    lines = run_bundle(path, request)
    assert lines[-1]["type"] == "result", lines[-1]
    names = [config["name"] for config in lines[-1]["data"]["configs"]]
    assert names == ["flux.peft-lora"]
