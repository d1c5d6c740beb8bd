"""The vg tool on a workspace copied to another folder: no numbered grid unless the grid changed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List

import pytest
from helpers import sshd_server

from ppdesk.demo import build_demo_workspace
from ppdesk.remote.hostkeys import HostKeyStore
from ppdesk.remote.local import LocalTransport
from ppdesk.remote.profiles import Profile
from ppdesk.remote.ssh import SshTransport
from ppdesk.remote.ssh_auth import SshPrompts
from ppdesk.remote.transport import Transport
from ppdesk.tools.base import Status, ToolContext, ToolResult
from ppdesk.tools.validation_grid import ValidationGrid
from ppdesk.tools.workspace import scan_workspace

CONFIG = "sofia_001_lr1e-4"
PLAIN = [f"{CONFIG}-validation-grid.jpg", f"{CONFIG}-validation-grid.json"]
NUMBERED = [f"{CONFIG}-validation-grid (2).jpg", f"{CONFIG}-validation-grid (2).json"]
KEPT_NOTE = "an older, different grid was kept"


def run_vg(transport: Transport, dest: Path) -> ToolResult:
    [config] = scan_workspace(transport).select(None, CONFIG)
    return ValidationGrid().run(ToolContext(transport=transport, dest=dest), config)


def grids(dest: Path) -> Path:
    return dest / CONFIG / "grids"


def moved_copy(workspace: Path, target: Path) -> Path:
    shutil.copytree(workspace, target, symlinks=True)
    return target


def add_later_step(workspace: Path) -> None:
    """Copy the newest portrait sample as a later step, as more training would."""
    samples = workspace / "SimpleTuner" / "output" / CONFIG / "validation_images"
    newest = max(samples.glob("step_*_portrait_*"), key=lambda path: int(path.name.split("_")[1]))
    shutil.copyfile(newest, samples / newest.name.replace(newest.name.split("_")[1], "99999", 1))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return build_demo_workspace(tmp_path / "ws")


def test_moved_workspace_no_numbered_grid(workspace: Path, tmp_path: Path):
    first = run_vg(LocalTransport.for_root(workspace), tmp_path / "dest1")
    pod = moved_copy(workspace, tmp_path / "pod")

    second = run_vg(LocalTransport.for_root(pod), tmp_path / "dest2")
    third = run_vg(LocalTransport.for_root(pod), tmp_path / "dest2")

    for result in (first, second, third):
        assert result.status is Status.OK, result.message
        assert "(2)" not in result.message
        assert KEPT_NOTE not in result.message
        assert result.details["local_names"] == PLAIN
    assert sorted(path.name for path in grids(tmp_path / "dest2").iterdir()) == PLAIN
    for name in PLAIN:
        assert (grids(tmp_path / "dest2") / name).read_bytes() == (grids(tmp_path / "dest1") / name).read_bytes()


def test_changed_grid_warns_once(workspace: Path, tmp_path: Path):
    run_vg(LocalTransport.for_root(workspace), tmp_path / "dest1")
    pod = moved_copy(workspace, tmp_path / "pod")
    add_later_step(pod)

    changed = run_vg(LocalTransport.for_root(pod), tmp_path / "dest2")
    again = run_vg(LocalTransport.for_root(pod), tmp_path / "dest2")
    fresh = run_vg(LocalTransport.for_root(pod), tmp_path / "dest3")

    assert changed.status is Status.WARNING
    assert f"{KEPT_NOTE}; the new one is saved as {NUMBERED[0]}" in changed.message
    assert changed.details["local_names"] == NUMBERED
    for result in (again, fresh):
        assert result.status is Status.OK, result.message
        assert KEPT_NOTE not in result.message
        assert result.message.endswith(f"; unchanged since an earlier run saved it as {NUMBERED[0]}")
        assert result.details["local_names"] == NUMBERED
    assert sorted(path.name for path in grids(tmp_path / "dest2").iterdir()) == NUMBERED
    kept = pod / "SimpleTuner" / "config" / CONFIG
    assert sorted(path.name for path in kept.iterdir() if "validation-grid" in path.name) == sorted(PLAIN + NUMBERED)


def test_changed_local_grid_warns_once(workspace: Path, tmp_path: Path):
    dest = tmp_path / "dest"
    planted = grids(dest) / PLAIN[0]
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"a grid the user edited")

    first = run_vg(LocalTransport.for_root(workspace), dest)
    second = run_vg(LocalTransport.for_root(workspace), dest)

    assert first.status is Status.WARNING
    assert f"{KEPT_NOTE}; the new one is saved as {NUMBERED[0]}" in first.message
    assert second.status is Status.OK, second.message
    assert second.message.endswith(f"; unchanged since an earlier run saved it as {NUMBERED[0]}")
    assert planted.read_bytes() == b"a grid the user edited"


@pytest.fixture(scope="module")
def python_without_pillow(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real interpreter that cannot import PIL: a venv without system site-packages."""
    venv = tmp_path_factory.mktemp("nopil") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    assert subprocess.run([str(python), "-c", "import PIL"], capture_output=True).returncode != 0
    return str(python)


def test_grid_built_here_is_location_free(workspace: Path, tmp_path: Path, python_without_pillow: str):
    dest = tmp_path / "dest"
    pod = moved_copy(workspace, tmp_path / "pod")

    results = [
        run_vg(LocalTransport(LocalTransport.for_root(root).layout, python=python_without_pillow), dest)
        for root in (workspace, pod)
    ]

    for result in results:
        assert result.details["built_locally"] is True
        assert result.details["local_names"] == PLAIN
        assert KEPT_NOTE not in result.message
    sidecar = (grids(dest) / PLAIN[1]).read_text(encoding="utf-8")
    assert json.loads(sidecar)["output"] == f"SimpleTuner/output/{CONFIG}"
    assert str(tmp_path) not in sidecar
    assert sorted(path.name for path in grids(dest).iterdir() if not path.name.startswith(".")) == PLAIN


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """An sshd on 127.0.0.1 and the client key it accepts."""
    sshd_server.require_tools()
    folder = tmp_path_factory.mktemp("grid-keys")
    keys = sshd_server.ClientKeys(folder)
    keys.paths["ed25519"] = sshd_server.keygen(folder / "id_ed25519", "ed25519")
    server = sshd_server.start_server(tmp_path_factory.mktemp("grid-sshd"), keys)
    yield server, keys["ed25519"]
    server.stop()


@pytest.mark.ssh
def test_moved_workspace_over_ssh(ssh_server, workspace: Path, tmp_path: Path):
    server, key = ssh_server
    run_vg(LocalTransport.for_root(workspace), tmp_path / "dest1")
    pod = moved_copy(workspace, tmp_path / "pod")
    profile = Profile(name="pod", host="127.0.0.1", port=server.port, user="root", auth="key", key_file=str(key),
                      root=str(pod))
    transport = SshTransport(
        profile,
        prompts=SshPrompts(confirm_host_key=lambda info: True),
        host_keys=HostKeyStore(own_path=tmp_path / "known_hosts", user_path=tmp_path / "user_known_hosts"),
        connect_timeout=10.0,
    )
    results: List[ToolResult] = []
    try:
        for _ in range(2):
            results.append(run_vg(transport, tmp_path / "dest2"))
    finally:
        transport.close()

    for result in results:
        assert result.status is Status.OK, result.message
        assert KEPT_NOTE not in result.message
        assert result.details["local_names"] == PLAIN
    for name in PLAIN:
        assert (grids(tmp_path / "dest2") / name).read_bytes() == (grids(tmp_path / "dest1") / name).read_bytes()
