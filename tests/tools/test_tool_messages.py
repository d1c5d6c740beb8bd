"""Result messages of the tools: named items, unreadable configs, interrupted tools."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import ClassVar

from ppdesk.demo import build_demo_workspace
from ppdesk.remote.errors import ConnectionLost
from ppdesk.remote.local import LocalTransport
from ppdesk.tools.base import Status, Tool, ToolContext, ToolResult
from ppdesk.tools.common import name_items
from ppdesk.tools.download_output import DownloadOutput
from ppdesk.tools.lora_mover import LoraMover
from ppdesk.tools.postprocess import PostProcess
from ppdesk.tools.workspace import ConfigEntry, scan_workspace
from ppdesk.units import format_bytes


def test_name_items_counts_the_rest():
    assert name_items([]) == ""
    assert name_items(["a"]) == "a"
    assert name_items(["a", "b", "c"]) == "a, b, c"
    assert name_items(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"
    assert name_items(["a", "b"], limit=1) == "a and 1 more"


def _context(root: Path, dest: Path) -> ToolContext:
    return ToolContext(transport=LocalTransport.for_root(root), dest=dest)


def _config(root: Path, name: str) -> ConfigEntry:
    [config] = scan_workspace(LocalTransport.for_root(root)).select(None, name)
    return config


def test_download_conflicts_named_in_message(tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    dest = tmp_path / "dest"
    config = _config(root, "sofia_001_lr1e-4")
    first = DownloadOutput().run(_context(root, dest), config)
    assert first.status is Status.OK, first.message

    output = dest / "sofia_001_lr1e-4" / "output"
    downloaded = sorted(first.details["downloaded"])
    assert len(downloaded) >= 4
    changed = downloaded[:4]
    for rel in changed:
        (output / rel).write_bytes(b"edited on this machine")

    second = DownloadOutput().run(_context(root, dest), config)
    assert second.status is Status.WARNING
    conflicts = [item["rel"] for item in second.details["conflicts"]]
    assert sorted(conflicts) == changed
    assert f"; 4 different local files kept: {conflicts[0]}, {conflicts[1]}, {conflicts[2]} and 1 more" in second.message
    for rel in changed:
        assert (output / rel).read_bytes() == b"edited on this machine"


def test_lora_conflicts_named_in_message(tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    config = _config(root, "sofia_001_lr1e-4")
    folder = root / "ComfyUI" / "models" / "loras" / "flux" / "sofia" / "sofia_001_lr1e-4"
    folder.mkdir(parents=True)
    planted = ["sofia_001_lr1e-4-00200.safetensors", "sofia_001_lr1e-4-final.safetensors"]
    for name in planted:
        (folder / name).write_bytes(b"someone else's LoRA")

    result = LoraMover().run(_context(root, tmp_path / "dest"), config)
    assert result.status is Status.WARNING
    assert "2 conflicts left unchanged: " in result.message
    for name in planted:
        assert name in result.message
    assert sorted(Path(item["dest"]).name for item in result.details["conflicts"]) == sorted(planted)


def test_unreadable_config_named_in_skips(tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    config_file = root / "SimpleTuner" / "config" / "max_002_env" / "config.json"
    config_file.parent.joinpath("config.env").unlink(missing_ok=True)
    config_file.write_text('{"output_dir": "output/max_002_env",', encoding="utf-8")
    # Without its output folder, the name-based guess finds nothing either.
    shutil.rmtree(root / "SimpleTuner" / "output" / "max_002_env")

    config = _config(root, "max_002_env")
    assert config.errors
    assert config.output is None
    results = PostProcess().run(_context(root, tmp_path / "dest"), [config])
    by_tool = {result.tool: result for result in results}

    for key in ("lm", "vg", "do"):
        result = by_tool[key]
        assert result.status is Status.SKIPPED, key
        assert result.message.startswith("config could not be read: "), result.message
        assert "is not valid JSON" in result.message
        assert result.message.endswith("; fix the file and run again")
        assert result.details["skip_reason"]
    assert by_tool["do"].details["skip_reason"] == "no output folder (not set)"
    # The dataset file next to the config is found without the config's settings.
    assert by_tool["dg"].status is Status.OK, by_tool["dg"].message
    assert by_tool["dc"].status is Status.OK, by_tool["dc"].message


class FailsAfterCancel(Tool):
    """Sets the cancel token and then fails, as a tool does when Ctrl-C also stopped the agent."""

    key: ClassVar[str] = "dies"
    title: ClassVar[str] = "Dies"

    def execute(self, ctx: ToolContext, config: ConfigEntry) -> ToolResult:
        ctx.cancel.cancel()
        raise ConnectionLost("agent exited with status -2")


class Finishes(Tool):
    key: ClassVar[str] = "fine"
    title: ClassVar[str] = "Fine"

    def execute(self, ctx: ToolContext, config: ConfigEntry) -> ToolResult:
        return ToolResult(self.key, config.name, Status.OK, "done")


def test_failure_after_cancel_is_cancelled(tmp_path: Path):
    registry = {"fine": Finishes, "dies": FailsAfterCancel}
    configs = [ConfigEntry(name="a_1", family="a"), ConfigEntry(name="a_2", family="a")]
    ctx = ToolContext(transport=None, dest=tmp_path)  # type: ignore[arg-type]
    results = PostProcess(["fine", "dies", "fine"], registry).run(ctx, configs)

    assert [(r.tool, r.config, r.status) for r in results] == [
        ("fine", "a_1", Status.OK),
        ("dies", "a_1", Status.CANCELLED),
        ("fine", "a_1", Status.CANCELLED),
        ("fine", "a_2", Status.CANCELLED),
        ("dies", "a_2", Status.CANCELLED),
        ("fine", "a_2", Status.CANCELLED),
    ]
    assert results[0].message == "done"
    assert results[1].message == "cancelled while running; run it again to finish"
    assert results[1].details["error"] == "agent exited with status -2"
    assert results[2].message == "cancelled before it started"


def test_only_step0_samples_skips_vg(tmp_path: Path):
    from ppdesk.tools.validation_grid import ValidationGrid

    root = build_demo_workspace(tmp_path / "ws")
    config = _config(root, "sofia_001_lr1e-4")
    samples = Path(config.output) / "validation_images"
    for path in samples.iterdir():
        if not path.name.startswith("step_0_"):
            path.unlink()
    # Step 0 is filtered by name before any image is read, so the bytes do not matter.
    (samples / "step_0_portrait_160x160.png").write_bytes(b"step 0 sample")
    config = _config(root, "sofia_001_lr1e-4")

    result = ValidationGrid().run(_context(root, tmp_path / "dest"), config)

    assert result.status is Status.SKIPPED
    assert "only step 0 (base model) samples" in result.message


def test_download_size_in_binary_units(tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    dest = tmp_path / "dest"
    config = _config(root, "max_002_env")

    result = DownloadOutput().run(_context(root, dest), config)

    output = dest / "max_002_env" / "output"
    fetched = sum((output / rel).stat().st_size for rel in result.details["downloaded"])
    assert result.status is Status.OK, result.message
    # Below 1 MB, where a decimal format with one digit after the point can print "0.0 MB".
    assert 0 < fetched < 1_000_000
    assert result.details["bytes"] == fetched
    assert f"({format_bytes(fetched)} fetched)" in result.message
    assert " MB" not in result.message
