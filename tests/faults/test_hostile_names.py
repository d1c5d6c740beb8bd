"""Config, dataset, sample and checkpoint names with shell syntax, newlines and invalid UTF-8."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from faults.workspaces import HOSTILE_SEGMENTS, build_hostile_workspace, find_canaries

from ppdesk.cancel import CancelToken
from ppdesk.remote.local import LocalTransport
from ppdesk.tools.base import Status, ToolContext
from ppdesk.tools.postprocess import PostProcess
from ppdesk.tools.workspace import scan_workspace

REPO = Path(__file__).resolve().parents[2]


def _canary_places(tmp_path: Path) -> list:
    return [tmp_path, Path.home(), Path.cwd(), REPO]


def _shallow_canaries(tmp_path: Path) -> list:
    found = find_canaries([tmp_path])
    for folder in (Path.home(), Path.cwd(), REPO, Path("/tmp")):
        found += [str(folder / name) for name in os.listdir(folder) if name.startswith("ppdesk-canary")]
    return found


def _check_results(results, configs, dest: Path) -> None:
    assert len(configs) == len(HOSTILE_SEGMENTS)
    by_key = {}
    for result in results:
        by_key.setdefault(result.tool, []).append(result)
        # Every outcome is either a success or a failure that names the file and the reason.
        assert result.status in (Status.OK, Status.WARNING), f"{result.tool} {result.config!r}: {result.message}"
    assert sorted(by_key) == ["dc", "dg", "do", "lm", "vg"]
    for config in configs:
        local = dest / config.name
        grids = sorted(path.name for path in (local / "grids").iterdir())
        stem = config.name
        assert grids == sorted([f"{stem}-dataset-grid.jpg", f"{stem}-validation-grid.jpg", f"{stem}-validation-grid.json"])
        assert (local / "output" / "pytorch_lora_weights.safetensors").is_file()
        assert (local / "output" / "checkpoint-200" / "pytorch_lora_weights.safetensors").is_file()
        assert (local / "config" / "config.json").is_file()


def _check_bytes_equal(root: Path, dest: Path, configs) -> None:
    """Every downloaded file equals its pod file, found through the raw bytes name."""
    for config in configs:
        local_root = dest / config.name / "output"
        pod_root = Path(config.output)
        for current, _folders, files in os.walk(os.fsencode(local_root)):
            for name in files:
                local = os.path.join(current, name)
                rel = os.path.relpath(local, os.fsencode(local_root))
                with open(local, "rb") as mine, open(os.path.join(os.fsencode(pod_root), rel), "rb") as theirs:
                    assert mine.read() == theirs.read(), rel


@pytest.mark.ssh
def test_hostile_names_over_ssh(make_transport, tmp_path):
    root = Path(os.fsdecode(build_hostile_workspace(tmp_path / "ws")))
    transport = make_transport(root)
    scan = scan_workspace(transport, CancelToken())
    assert scan.errors == []
    dest = tmp_path / "dest"
    ctx = ToolContext(transport=transport, dest=dest)
    results = PostProcess().run(ctx, scan.configs)

    _check_results(results, scan.configs, dest)
    _check_bytes_equal(root, dest, scan.configs)
    assert _shallow_canaries(tmp_path) == []


def test_hostile_names_local(tmp_path):
    root = Path(os.fsdecode(build_hostile_workspace(tmp_path / "ws")))
    transport = LocalTransport.for_root(root)
    scan = scan_workspace(transport, CancelToken())
    dest = tmp_path / "dest"
    results = PostProcess().run(ToolContext(transport=transport, dest=dest), scan.configs)

    _check_results(results, scan.configs, dest)
    _check_bytes_equal(root, dest, scan.configs)
    assert _shallow_canaries(tmp_path) == []


def test_hostile_names_cli_output(tmp_path):
    """The CLI prints a table and JSON for hostile names without crashing on undecodable ones."""
    root = Path(os.fsdecode(build_hostile_workspace(tmp_path / "ws")))
    for extra in ([], ["--json"]):
        dest = tmp_path / ("dest-json" if extra else "dest-table")
        command = [sys.executable, "-m", "ppdesk", "pp", "--workspace", str(root), "--family", "hostile10",
                   "--dest", str(dest), *extra]
        done = subprocess.run(command, capture_output=True, cwd=tmp_path, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"})
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        if extra:
            results = json.loads(done.stdout)
            assert {result["status"] for result in results} <= {"ok", "warning"}
    assert _shallow_canaries(tmp_path) == []
