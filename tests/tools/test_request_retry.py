"""A lost connection during a read-only agent request: the request runs again, but a writing one does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest

from ppdesk.cancel import Cancelled, CancelToken
from ppdesk.demo import build_demo_workspace
from ppdesk.remote.errors import ConnectionLost, HostKeyError
from ppdesk.remote.local import LocalTransport
from ppdesk.tools import common
from ppdesk.tools.base import Status, ToolContext
from ppdesk.tools.common import AgentRequest, run_request
from ppdesk.tools.download_config import DownloadConfig
from ppdesk.tools.lora_mover import LoraMover
from ppdesk.tools.workspace import ConfigEntry, scan_workspace

CONFIG = "sofia_001_lr1e-4"


class DroppingTransport(LocalTransport):
    """A LocalTransport whose first ``drops`` agent requests fail as a dropped SSH link does."""

    def __init__(self, root: Path, drops: int, error: Exception) -> None:
        base = LocalTransport.for_root(root)
        super().__init__(base.layout)
        self.drops = drops
        self.error = error
        self.ops: List[str] = []

    def run_agent(self, op: str, args: Dict[str, Any], on_event=None, cancel=None) -> Any:
        self.ops.append(op)
        if self.drops:
            self.drops -= 1
            raise self.error
        return super().run_agent(op, args, on_event=on_event, cancel=cancel)


@pytest.fixture(autouse=True)
def short_backoff(monkeypatch):
    monkeypatch.setattr(common, "REQUEST_BACKOFF", 0.01)


def _config(root: Path) -> ConfigEntry:
    [config] = scan_workspace(LocalTransport.for_root(root)).select(None, CONFIG)
    return config


def test_plan_retried_after_drop(tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    transport = DroppingTransport(root, drops=2, error=ConnectionLost("connection lost: link dropped"))

    result = DownloadConfig().run(ToolContext(transport=transport, dest=tmp_path / "dest"), _config(root))

    assert result.status is Status.OK, result.message
    assert transport.ops[:3] == ["plan_download", "plan_download", "plan_download"]
    assert (tmp_path / "dest" / CONFIG / "config" / "multidatabackend.json").is_file()


def test_plan_gives_up_after_retries(tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    transport = DroppingTransport(root, drops=99, error=ConnectionLost("connection lost: link dropped"))

    result = DownloadConfig().run(ToolContext(transport=transport, dest=tmp_path / "dest"), _config(root))

    assert result.status is Status.FAILED
    assert "link dropped" in result.message
    assert transport.ops == ["plan_download"] * (common.REQUEST_RETRIES + 1)


def test_mover_not_retried(tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    transport = DroppingTransport(root, drops=1, error=ConnectionLost("connection lost: link dropped"))

    result = LoraMover().run(ToolContext(transport=transport, dest=tmp_path / "dest"), _config(root))

    assert result.status is Status.FAILED
    assert transport.ops.count("move_loras") == 1


def test_host_key_error_not_retried(tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    transport = DroppingTransport(root, drops=1, error=HostKeyError("the host key of [127.0.0.1]:2222 changed"))
    ctx = ToolContext(transport=transport, dest=tmp_path / "dest")

    with pytest.raises(HostKeyError):
        run_request(ctx, "dc", _config(root), AgentRequest("plan_download", {"config": CONFIG, "kind": "config"}))
    assert transport.ops == ["plan_download"]


def test_cancel_during_retry_wait(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(common, "REQUEST_BACKOFF", 30.0)
    root = build_demo_workspace(tmp_path / "ws")
    token = CancelToken()

    class CancelOnDrop(DroppingTransport):
        def run_agent(self, op: str, args: Dict[str, Any], on_event=None, cancel=None) -> Any:
            # The user presses Cancel just as the link drops.
            token.cancel()
            return super().run_agent(op, args, on_event=on_event, cancel=cancel)

    transport = CancelOnDrop(root, drops=1, error=ConnectionLost("connection lost: link dropped"))
    ctx = ToolContext(transport=transport, dest=tmp_path / "dest", cancel=token)

    with pytest.raises(Cancelled):
        run_request(ctx, "dc", _config(root), AgentRequest("hash_files", {"paths": []}))
    assert transport.ops == ["hash_files"]
