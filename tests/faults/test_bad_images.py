"""Broken, odd and hostile image files in the validation and dataset folders.

The grids are built by the real agent in a child process, and the peak
resident memory of that agent is read from ``RUSAGE_CHILDREN`` in a wrapper
process of its own, so earlier tests do not count.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Seconds a grid build over these few files may take before the test calls it hung.
BUILD_LIMIT = 180
# Peak RSS limit of the agent in KiB. The files are tiny; the decompression
# bomb GIF claims a huge canvas, so a decoder that honoured it would blow far past this.
RSS_LIMIT_KIB = 400 * 1024

_WRAPPER = r"""
import json, resource, sys
from ppdesk.remote.local import LocalTransport
from ppdesk.remote.errors import AgentError
transport = LocalTransport.for_root(sys.argv[1])
try:
    data = transport.run_agent(sys.argv[2], json.loads(sys.argv[3]))
except AgentError as exc:
    data = {"error": exc.kind, "message": exc.message}
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"data": data, "peak_kib": peak}))
"""


def _bad_files(odd: Path, folder: Path) -> dict:
    """Write every odd fixture as a sample plus three broken PNGs into ``folder``.

    Returns {sample file name: fixture file name} for the odd fixtures.
    """
    folder.mkdir(parents=True, exist_ok=True)
    names = {}
    for index, source in enumerate(sorted(odd.iterdir())):
        suffix = source.suffix if source.suffix in (".png", ".jpg", ".webp") else ".png"
        name = f"step_{100 * (index + 1)}_odd{index}_64x64{suffix}"
        shutil.copy(source, folder / name)
        names[name] = source.name
    (folder / "step_2000_empty_64x64.png").write_bytes(b"")
    (folder / "step_2100_text_64x64.png").write_text("this is not an image\n")
    photo = next(path for path in sorted((odd.parent / "photos").iterdir()) if path.suffix == ".png" and path.stat().st_size > 20_000)
    (folder / "step_2200_cut_64x64.png").write_bytes(photo.read_bytes()[:10 * 1024])
    return names


def _run_agent(root: Path, op: str, args: dict) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(root), op, json.dumps(args)],
        capture_output=True, text=True, timeout=BUILD_LIMIT, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_grids_survive_bad_images(fixtures_dir, tmp_path):
    from ppdesk.demo import build_demo_workspace
    from ppdesk.remote.local import LocalTransport

    root = build_demo_workspace(tmp_path / "ws")
    scan = LocalTransport.for_root(root).run_agent("scan")
    config = next(c for c in scan["configs"] if c["output_exists"] and c["datasets"])
    odd = fixtures_dir / "images" / "odd"
    samples = Path(config["output"]) / "validation_images"
    shutil.rmtree(samples)
    names = _bad_files(odd, samples)
    dataset = Path(config["datasets"][0])
    for source in odd.iterdir():
        shutil.copy(source, dataset / f"odd-{source.name}")
    (dataset / "zero.png").write_bytes(b"")
    (dataset / "text.png").write_text("not an image\n")
    (dataset / "cut.png").write_bytes((samples / "step_2200_cut_64x64.png").read_bytes())

    validation = _run_agent(root, "validation_grid", {"config": config["name"]})
    dataset_run = _run_agent(root, "dataset_grid", {"config": config["name"], "limit": 100})

    grid = validation["data"]
    assert "error" not in grid, grid
    sidecar = json.loads(Path(grid["sidecar"]).read_text())
    errors = {Path(cell["source"]).name: cell["error"] for cell in sidecar["cells"] if cell["source"]}
    for name in ("step_2000_empty_64x64.png", "step_2100_text_64x64.png", "step_2200_cut_64x64.png"):
        assert errors[name], name
    print(json.dumps(errors, indent=1), validation["peak_kib"], dataset_run["peak_kib"])
    assert grid["bad_cells"] == sum(1 for error in errors.values() if error)
    assert grid["bad_cells"] >= 4
    assert Path(grid["grid"]).read_bytes()[:3] == b"\xff\xd8\xff"
    assert validation["peak_kib"] < RSS_LIMIT_KIB

    sheet = dataset_run["data"]
    assert "error" not in sheet, sheet
    assert sheet["bad_images"] >= 4
    assert sheet["images"] == sheet["total_images"]
    assert Path(sheet["grid"]).read_bytes()[:3] == b"\xff\xd8\xff"
    assert dataset_run["peak_kib"] < RSS_LIMIT_KIB
