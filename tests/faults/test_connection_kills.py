"""Killing the server side of the SSH session during a download, a LoRA mover run and a grid build."""

from __future__ import annotations

import logging
import os
import random
import shutil
import threading
from pathlib import Path

import pytest
from faults.conftest import kill_sessions, sha256_of

from ppdesk.transfer.engine import download
from ppdesk.transfer.plan import PlannedFile
from ppdesk.transfer.report import FileStatus

# Seeded, so a failing run can be repeated with the same kill points.
KILL_SEED = 20261204


@pytest.mark.ssh
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_download_survives_three_kills(make_transport, own_sshd, big_file, tmp_path, caplog, progress_every_block):
    rng = random.Random(KILL_SEED)
    kill_points = sorted(rng.randrange(16 << 20, big_file.size - (16 << 20)) for _ in range(3))
    stat = big_file.path.stat()
    planned = PlannedFile(str(big_file.path), "output/weights.safetensors", stat.st_size, stat.st_mtime, big_file.sha256)
    killed = []
    lock = threading.Lock()

    def kill_at_points(progress) -> None:
        with lock:
            if len(killed) < len(kill_points) and progress.file_done >= kill_points[len(killed)]:
                killed.append(kill_sessions(own_sshd))

    transport = make_transport(tmp_path / "ws", server=own_sshd)
    caplog.set_level(logging.INFO)
    report = download(transport, [planned], tmp_path / "dest", jobs=1, on_progress=kill_at_points, backoff=0.05)

    outcome = report.outcomes[0]
    result = tmp_path / "dest" / "output" / "weights.safetensors"
    assert len(killed) == 3
    assert all(killed)
    assert outcome.status == FileStatus.DOWNLOADED, outcome.message
    assert sha256_of(result) == big_file.sha256
    assert not (tmp_path / "dest" / "output" / "weights.safetensors.part").exists()
    assert sorted(path.name for path in result.parent.iterdir()) == ["weights.safetensors"]
    # Every kill was seen, logged as a lost connection and retried.
    retries = [record.getMessage() for record in caplog.records if "retry" in record.getMessage()]
    assert len(retries) >= 3
    assert all("connection lost" in message for message in retries)
    reconnects = [record for record in caplog.records if "reconnecting" in record.getMessage()]
    assert len(reconnects) >= 3


def _weights_workspace(tmp_path: Path, demo_root: Path, megabytes: int) -> Path:
    """Give every checkpoint of the demo's first config large weights, so the mover runs long."""
    output = demo_root / "SimpleTuner" / "output"
    for weights in output.rglob("pytorch_lora_weights.safetensors"):
        with weights.open("ab") as handle:
            handle.write(os.urandom(megabytes << 20))
    return demo_root


def _final_files_complete(folder: Path, sources: dict) -> None:
    """Assert that every file under a final name in ``folder`` equals its source."""
    for path in folder.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            assert path.name in sources, f"unexpected file {path}"
            assert sha256_of(path) == sources[path.name], f"{path} is not a complete copy"


@pytest.mark.ssh
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_mover_killed_leaves_no_partial(make_transport, own_sshd, held_python, tmp_path, caplog):
    from ppdesk.cancel import CancelToken
    from ppdesk.demo import build_demo_workspace
    from ppdesk.tools.base import Status, ToolContext
    from ppdesk.tools.lora_mover import LoraMover
    from ppdesk.tools.workspace import scan_workspace

    root = _weights_workspace(tmp_path, build_demo_workspace(tmp_path / "ws"), 48)
    transport = make_transport(root, server=own_sshd, python=held_python.interpreter)
    scan = scan_workspace(transport, CancelToken())
    config = next(entry for entry in scan.configs if len(entry.checkpoints) >= 2)
    # The mover links each copy into place, and after the last link the agent
    # waits. So the kill after the first copy always lands before the result.
    held_python.hold_after(len(config.checkpoints) + (1 if config.final_weights else 0))
    killed = []

    def kill_on_second_copy(event) -> None:
        if not killed and event.done >= 1:
            killed.append(kill_sessions(own_sshd))

    caplog.set_level(logging.INFO)
    ctx = ToolContext(transport=transport, dest=tmp_path / "dest", progress=kill_on_second_copy)
    first = LoraMover().run(ctx, config)

    assert killed
    assert first.status == Status.FAILED
    assert "connection lost" in first.message
    assert config.name in caplog.text
    held_python.release()

    # Every file under a final name on the pod is a whole copy of its source.
    output = Path(config.output)
    sources = {}
    last = config.name.rsplit("/", 1)[-1]
    for step in config.checkpoints:
        sources[f"{last}-{step:05d}.safetensors"] = sha256_of(output / f"checkpoint-{step}" / "pytorch_lora_weights.safetensors")
    if config.final_weights:
        sources[f"{last}-final.safetensors"] = sha256_of(Path(config.final_weights[0]))
    loras = root / "ComfyUI" / "models" / "loras"
    _final_files_complete(loras, sources)

    # The rerun finishes the job and reports the earlier copies as identical.
    second = LoraMover().run(ToolContext(transport=transport, dest=tmp_path / "dest"), config)
    assert second.status in (Status.OK, Status.WARNING), second.message
    _final_files_complete(loras, sources)
    finals = [path for path in loras.rglob("*.safetensors") if not path.name.startswith(".")]
    assert len(finals) == len(sources)


@pytest.mark.ssh
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_held_python_waits_until_killed(make_transport, own_sshd, held_python, tmp_path):
    """The held interpreter that the kill tests rely on: the mover stops after its first link until the kill."""
    from ppdesk.demo import build_demo_workspace

    root = build_demo_workspace(tmp_path / "ws")
    transport = make_transport(root, server=own_sshd, python=held_python.interpreter)
    config = next(c for c in transport.run_agent("scan")["configs"] if len(c["checkpoints"]) >= 2)
    held_python.hold_after(1)
    outcome: list = []
    run = threading.Thread(target=lambda: outcome.append(_run_catching(transport, config["name"])), daemon=True)
    run.start()

    # Waits for the agent to reach the hold, which deletes the hold file.
    while held_python.hold_file.exists() and run.is_alive():
        run.join(0.05)
    still_running = run.is_alive()
    kill_sessions(own_sshd)
    run.join(60)

    assert still_running
    assert not run.is_alive()
    assert "connection lost" in outcome[0]
    loras = root / "ComfyUI" / "models" / "loras"
    assert len([path for path in loras.rglob("*.safetensors") if not path.name.startswith(".")]) == 1


def _run_catching(transport, config_name: str) -> str:
    """Run the mover and return its error message, or "" when it returned a result."""
    from ppdesk.remote.errors import TransportError

    try:
        transport.run_agent("move_loras", {"config": config_name})
    except TransportError as exc:
        return str(exc)
    return ""


@pytest.mark.ssh
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_grid_build_killed_leaves_no_partial(make_transport, own_sshd, held_python, tmp_path, fixtures_dir):
    from ppdesk.cancel import CancelToken
    from ppdesk.demo import build_demo_workspace
    from ppdesk.tools.base import Status, ToolContext
    from ppdesk.tools.validation_grid import ValidationGrid
    from ppdesk.tools.workspace import scan_workspace

    root = build_demo_workspace(tmp_path / "ws")
    transport = make_transport(root, server=own_sshd, python=held_python.interpreter)
    scan = scan_workspace(transport, CancelToken())
    config = next(entry for entry in scan.configs if entry.validation_samples > 0)
    # The build links the finished grid into place and then waits, so the
    # kill during the build always lands before the result.
    held_python.hold_after(1)
    # Many large samples make the build long enough to be killed in the middle.
    samples = Path(config.output) / "validation_images"
    photo = fixtures_dir / "images" / "photos"
    big = sorted(photo.iterdir())[0]
    for step in range(1000, 1000 + 40 * 50, 50):
        shutil.copy(big, samples / f"step_{step}_portrait_1024x1024.png")
    killed = []

    def kill_mid_build(event) -> None:
        if not killed and event.total and event.done >= event.total // 3:
            killed.append(kill_sessions(own_sshd))

    ctx = ToolContext(transport=transport, dest=tmp_path / "dest", progress=kill_mid_build)
    first = ValidationGrid().run(ctx, config)

    assert killed
    assert first.status == Status.FAILED
    assert "connection lost" in first.message
    config_folder = Path(config.path)
    stem = config.name.rsplit("/", 1)[-1]
    grid = config_folder / f"{stem}-validation-grid.jpg"
    # Either the kill found the agent waiting after its link, or nothing was written.
    if grid.exists():
        from PIL import Image

        with Image.open(grid) as image:
            image.load()
    assert not (tmp_path / "dest" / config.name / "grids" / grid.name).exists()

    held_python.release()
    second = ValidationGrid().run(ToolContext(transport=transport, dest=tmp_path / "dest"), config)
    assert second.status in (Status.OK, Status.WARNING), second.message
    assert (tmp_path / "dest" / config.name / "grids" / grid.name).is_file()
