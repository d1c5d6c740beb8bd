"""safe_join and plan entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from ppdesk.transfer.plan import PlannedFile, planned_files, safe_join


@pytest.mark.parametrize(
    "rel",
    ["../x", "a/../../x", "..", ".", "./a", "/abs", "/", "C:\\x", "C:/x", "c:", "a\\..\\b", "a\\b", "a//b", "a/", "", "a\x00b", "x/D:y"],
)
def test_safe_join_rejects_escapes(tmp_path: Path, rel: str):
    with pytest.raises(ValueError) as info:
        safe_join(tmp_path, rel)
    assert repr(rel) in str(info.value)


@pytest.mark.parametrize(
    "rel, parts",
    [
        ("a.txt", ("a.txt",)),
        ("checkpoint-200/pytorch_lora_weights.safetensors", ("checkpoint-200", "pytorch_lora_weights.safetensors")),
        ("..hidden/a..b", ("..hidden", "a..b")),
        ("step_100_a b_1024x1024.png", ("step_100_a b_1024x1024.png",)),
    ],
)
def test_safe_join_accepts_relative_names(tmp_path: Path, rel: str, parts: tuple):
    assert safe_join(tmp_path, rel) == tmp_path.joinpath(*parts)


def test_planned_file_from_agent_entry():
    entry = {"path": "/w/out/a.bin", "rel": "a.bin", "size": 3, "mtime": 1.5, "sha256": "ABC"}
    planned = PlannedFile.from_agent(entry)
    assert planned == PlannedFile("/w/out/a.bin", "a.bin", 3, 1.5, "abc")


def test_planned_file_without_hash():
    entry = {"path": "/w/out/a.txt", "rel": "a.txt", "size": 3, "mtime": 1.5, "sha256": None}
    assert planned_files([entry])[0].sha256 is None


def test_planned_file_rejects_missing_field():
    with pytest.raises(ValueError) as info:
        PlannedFile.from_agent({"path": "/w/a", "size": 1, "mtime": 0})
    assert "rel" in str(info.value)
