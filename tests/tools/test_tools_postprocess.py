"""The post-process orchestrator and the grid tools' failure paths."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import ClassVar, List

import pytest

from ppdesk.cancel import CancelToken
from ppdesk.demo import build_demo_workspace
from ppdesk.remote.errors import ConnectionLost
from ppdesk.remote.local import LocalTransport
from ppdesk.tools import ORDER, TOOLS
from ppdesk.tools.base import Status, Tool, ToolContext, ToolResult
from ppdesk.tools.postprocess import PostProcess, count_statuses
from ppdesk.tools.validation_grid import ValidationGrid
from ppdesk.tools.dataset_grid import DatasetGrid
from ppdesk.tools.workspace import ConfigEntry, scan_workspace

CALLS: List[str] = []


class Fine(Tool):
    key: ClassVar[str] = "fine"
    title: ClassVar[str] = "Fine"

    def execute(self, ctx: ToolContext, config: ConfigEntry) -> ToolResult:
        CALLS.append(f"fine:{config.name}")
        return ToolResult(self.key, config.name, Status.OK, "done")


class Broken(Tool):
    key: ClassVar[str] = "broken"
    title: ClassVar[str] = "Broken"

    def execute(self, ctx: ToolContext, config: ConfigEntry) -> ToolResult:
        CALLS.append(f"broken:{config.name}")
        raise ConnectionLost("link died")


class Buggy(Tool):
    key: ClassVar[str] = "buggy"
    title: ClassVar[str] = "Buggy"

    def execute(self, ctx: ToolContext, config: ConfigEntry) -> ToolResult:
        raise KeyError("files")


class Canceller(Tool):
    key: ClassVar[str] = "cancel"
    title: ClassVar[str] = "Canceller"

    def execute(self, ctx: ToolContext, config: ConfigEntry) -> ToolResult:
        ctx.cancel.cancel()
        ctx.cancel.raise_if_cancelled()
        raise AssertionError("not reached")


REGISTRY = {"fine": Fine, "broken": Broken, "buggy": Buggy, "cancel": Canceller}
CONFIGS = [ConfigEntry(name="a_1", family="a"), ConfigEntry(name="a_2", family="a")]


@pytest.fixture(autouse=True)
def clear_calls():
    CALLS.clear()


def _ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(transport=None, dest=tmp_path)  # type: ignore[arg-type]


def test_registry_order():
    assert ORDER == ["lm", "vg", "dg", "dc", "do"]
    assert list(TOOLS) == ORDER
    assert all(TOOLS[key].key == key for key in ORDER)


def test_failed_tool_does_not_stop_others(tmp_path: Path):
    seen: List[ToolResult] = []
    results = PostProcess(["broken", "fine"], REGISTRY).run(_ctx(tmp_path), CONFIGS, on_result=seen.append)
    assert [(r.tool, r.config, r.status) for r in results] == [
        ("broken", "a_1", Status.FAILED),
        ("fine", "a_1", Status.OK),
        ("broken", "a_2", Status.FAILED),
        ("fine", "a_2", Status.OK),
    ]
    assert results[0].message == "link died"
    assert seen == results


def test_crashing_tool_becomes_failed(tmp_path: Path):
    results = PostProcess(["buggy", "fine"], REGISTRY).run(_ctx(tmp_path), CONFIGS[:1])
    assert results[0].status is Status.FAILED
    assert "KeyError" in results[0].message
    assert results[1].status is Status.OK


def test_cancel_marks_the_rest(tmp_path: Path):
    started: List[str] = []
    results = PostProcess(["fine", "cancel", "fine"], REGISTRY).run(
        _ctx(tmp_path), CONFIGS, on_start=lambda key, name: started.append(f"{key}:{name}")
    )
    assert [r.status for r in results] == [Status.OK, Status.CANCELLED] + [Status.CANCELLED] * 4
    assert CALLS == ["fine:a_1"]
    assert started == ["fine:a_1", "cancel:a_1"]


def test_cancelled_before_start(tmp_path: Path):
    ctx = _ctx(tmp_path)
    ctx.cancel = CancelToken()
    ctx.cancel.cancel()
    results = PostProcess(["fine"], REGISTRY).run(ctx, CONFIGS)
    assert [r.status for r in results] == [Status.CANCELLED, Status.CANCELLED]
    assert CALLS == []


def test_unknown_tool_key():
    with pytest.raises(ValueError, match="unknown tool 'xx'"):
        PostProcess(["xx"])


@pytest.fixture(scope="module")
def python_without_pillow(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real interpreter that cannot import PIL: a venv without system site-packages."""
    venv = tmp_path_factory.mktemp("nopil") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import PIL"], capture_output=True)
    assert probe.returncode != 0, "the venv unexpectedly imports PIL"
    return str(python)


@pytest.mark.parametrize("tool_class", [ValidationGrid, DatasetGrid])
def test_grid_without_pillow_built_locally(tool_class, python_without_pillow: str, tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    transport = LocalTransport(LocalTransport.for_root(root).layout, python=python_without_pillow)
    [config] = scan_workspace(transport).select(None, "sofia_001_lr1e-4")
    result = tool_class().run(ToolContext(transport=transport, dest=tmp_path / "dest"), config)
    assert result.status is Status.WARNING
    assert "lacks Pillow" in result.message
    assert result.details["built_locally"] is True
    grid = tmp_path / "dest" / "sofia_001_lr1e-4" / "grids" / result.details["local_names"][0]
    assert grid.read_bytes()[:3] == b"\xff\xd8\xff"


def test_grid_tools_skip_without_samples(tmp_path: Path):
    config = ConfigEntry(name="x_1", family="x", output="/nowhere", output_exists=True, validation_samples=0)
    result = ValidationGrid().run(_ctx(tmp_path), config)
    assert result.status is Status.SKIPPED
    assert result.message == "no validation samples"
    result = DatasetGrid().run(_ctx(tmp_path), config)
    assert result.status is Status.SKIPPED
    assert result.message.startswith("no local dataset folder")


def test_single_tool_run_log_names_tool(tmp_path: Path, caplog):
    caplog.set_level(logging.INFO, logger="ppdesk.tools.postprocess")

    runner = PostProcess(["broken", "fine"], REGISTRY)
    runner.run(_ctx(tmp_path), CONFIGS)
    single = PostProcess(["fine"], REGISTRY)
    single.run(_ctx(tmp_path), CONFIGS[:1])

    messages = [record.getMessage() for record in caplog.records]
    assert runner.title == "Broken, Fine"
    assert single.title == "Fine"
    assert "Broken, Fine finished on 2 configs: 2 failed, 2 ok" in messages
    assert "Fine finished on 1 config: 1 ok" in messages
    assert not any("post-process" in message.lower() for message in messages)


def test_whole_post_process_log_names_it(tmp_path: Path, caplog):
    caplog.set_level(logging.INFO, logger="ppdesk.tools.postprocess")
    registry = {key: Fine for key in ORDER}

    runner = PostProcess(None, registry)
    runner.run(_ctx(tmp_path), CONFIGS)

    messages = [record.getMessage() for record in caplog.records]
    assert runner.title == "Post-process"
    assert "Post-process started on 2 configs" in messages
    assert "Post-process finished on 2 configs: 10 ok" in messages


def test_count_statuses_in_first_seen_order():
    results = [
        ToolResult("vg", "a_1", Status.OK, ""),
        ToolResult("vg", "a_2", Status.FAILED, ""),
        ToolResult("vg", "a_3", Status.OK, ""),
    ]

    assert count_statuses(results) == "2 ok, 1 failed"
    assert count_statuses([]) == "nothing to do"
