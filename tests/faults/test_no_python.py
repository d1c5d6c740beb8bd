"""A pod whose Python lacks Pillow, and a pod with no Python at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from helpers.sshd_server import ClientKeys, SshdServer, start_server_with_options

from ppdesk.cancel import CancelToken
from ppdesk.remote.errors import AgentError
from ppdesk.tools.base import Status, ToolContext
from ppdesk.tools.postprocess import PostProcess
from ppdesk.tools.workspace import scan_workspace


@pytest.fixture(scope="module")
def venv_without_pillow(tmp_path_factory: pytest.TempPathFactory) -> str:
    venv = tmp_path_factory.mktemp("no-pillow") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    assert subprocess.run([str(python), "-c", "import PIL"], capture_output=True).returncode != 0
    return str(python)


@pytest.fixture
def pathless_sshd(tmp_path: Path, fault_keys: ClientKeys) -> Iterator[SshdServer]:
    """A server whose sessions get a PATH with no Python on it."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    server = start_server_with_options(tmp_path / "sshd-nopath", fault_keys, [f"SetEnv PATH={empty}"])
    yield server
    server.stop()


@pytest.mark.ssh
def test_pod_without_pillow(make_transport, venv_without_pillow, tmp_path):
    from ppdesk.demo import build_demo_workspace

    root = build_demo_workspace(tmp_path / "ws")
    transport = make_transport(root, python=venv_without_pillow)
    assert transport.agent_info()["pillow"] in (None, False, "")
    scan = scan_workspace(transport, CancelToken())
    config = next(c for c in scan.configs if c.output_exists and c.validation_samples and c.datasets and c.checkpoints)
    dest = tmp_path / "dest"
    results = {result.tool: result for result in PostProcess().run(ToolContext(transport=transport, dest=dest), [config])}

    for key in ("vg", "dg"):
        assert results[key].status == Status.WARNING, results[key].message
        assert "lacks Pillow" in results[key].message
        assert results[key].details["built_locally"] is True
        grid = dest / config.name / "grids" / results[key].details["local_names"][0]
        assert grid.read_bytes()[:3] == b"\xff\xd8\xff"
    assert results["vg"].details["rows"] >= 2
    for key in ("lm", "dc", "do"):
        assert results[key].status in (Status.OK, Status.WARNING), results[key].message
    assert (dest / config.name / "output").is_dir()
    # Nothing was built on the pod.
    assert not list(Path(config.path).glob("*-grid.jpg"))


@pytest.mark.ssh
def test_pod_without_python(make_transport, pathless_sshd, tmp_path):
    from ppdesk.demo import build_demo_workspace

    root = build_demo_workspace(tmp_path / "ws")
    transport = make_transport(root, server=pathless_sshd)
    with pytest.raises(AgentError) as caught:
        scan_workspace(transport, CancelToken())

    message = caught.value.message
    assert caught.value.kind == "no_python"
    assert "python3: " in message
    assert "not found" in message
    assert str(root / "SimpleTuner" / ".venv" / "bin" / "python") in message
    assert "--python" in message
