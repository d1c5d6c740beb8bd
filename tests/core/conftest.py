"""Workspace builders for the core tests: real fixture files copied into tmp_path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Optional

import pytest

from ppdesk.core.layout import WorkspaceLayout


class Workspace:
    """A pod workspace under tmp_path: ``<root>/SimpleTuner/{config,output}``."""

    def __init__(self, root: Path, copy_fixture) -> None:
        self.root = root
        self.simpletuner = root / "SimpleTuner"
        self.config_dir = self.simpletuner / "config"
        self.output_dir = self.simpletuner / "output"
        self.layout = WorkspaceLayout.from_root(str(root))
        self._copy_fixture = copy_fixture

    def add_fixture_config(self, fixture: str, name: str) -> Path:
        """Copy a fixture folder (relative to fixtures/) to ``config/<name>``; return the copy."""
        return self._copy_fixture(fixture, self.config_dir / name)

    def write_config(self, name: str, file_name: str, content: Any) -> Path:
        """Write ``config/<name>/<file_name>``; dicts and lists are written as JSON."""
        path = self.config_dir / name / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else json.dumps(content, indent=2)
        path.write_text(text, encoding="utf-8")
        return path

    def edit_json(self, path: Path, **changes: Any) -> dict:
        """Load a copied JSON file, update top-level keys and write it back."""
        data = json.loads(path.read_text(encoding="utf-8"))
        data.update(changes)
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        return data

    def make_output(self, relative: str) -> Path:
        """Create ``SimpleTuner/output/<relative>`` and return it."""
        path = self.output_dir / relative
        path.mkdir(parents=True, exist_ok=True)
        return path

    def add_checkpoint(
        self,
        output: Path,
        step: int,
        weights: Iterable[str] = ("pytorch_lora_weights.safetensors",),
        guard: bool = False,
        suffix: str = "",
    ) -> Path:
        """Create ``checkpoint-<step><suffix>`` with the given weight files and optimizer state beside them."""
        folder = output / f"checkpoint-{step}{suffix}"
        folder.mkdir(parents=True)
        for name in weights:
            (folder / name).write_bytes(b"weights " + name.encode())
        (folder / "optimizer.bin").write_bytes(b"optimizer")
        (folder / "training_state.json").write_text("{}", encoding="utf-8")
        if guard:
            (folder / ".guard").write_bytes(b"")
        return folder

    def add_samples(self, output: Path, names: Iterable[str], content: Optional[bytes] = None) -> Path:
        """Create files in ``<output>/validation_images``; the bytes are not an image on purpose."""
        folder = output / "validation_images"
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            (folder / name).write_bytes(content if content is not None else b"not an image")
        return folder


@pytest.fixture
def workspace(tmp_path: Path, copy_fixture) -> Workspace:
    """An empty workspace with SimpleTuner/config and SimpleTuner/output folders."""
    ws = Workspace(tmp_path / "workspace", copy_fixture)
    ws.config_dir.mkdir(parents=True)
    ws.output_dir.mkdir(parents=True)
    return ws
