"""Validation grid: layout, cell contents, composites, bad files and size limits."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Dict, List

import pytest
from PIL import Image

from ppdesk.core.grids.compose import JPEG_MAX_SIDE
from ppdesk.core.grids.validation import build_validation_grid, op_list_samples, op_validation_grid
from ppdesk.core.layout import WorkspaceLayout
from ppdesk.core.protocol import AgentFailure, Emitter

try:
    from .grids_helpers import (
        BROKEN_NAMES,
        copy_as,
        crop_cell,
        make_bad_files,
        make_composite,
        mean_difference,
        open_source,
        read_events,
    )
except ImportError:
    from grids_helpers import (  # type: ignore[no-redef]
        BROKEN_NAMES,
        copy_as,
        crop_cell,
        make_bad_files,
        make_composite,
        mean_difference,
        open_source,
        read_events,
    )

# A cell that shows its source differs from it by JPEG noise only; another photo differs a lot.
SAME_IMAGE_MAX_DIFFERENCE = 12.0
OTHER_IMAGE_MIN_MARGIN = 15.0


def build(output: Path, tmp_path: Path, **options) -> tuple:
    stream = io.StringIO()
    grid = tmp_path / "grid.jpg"
    sidecar = tmp_path / "grid.json"
    result = build_validation_grid(str(output), str(grid), str(sidecar), "demo", Emitter(stream), **options)
    document = json.loads(sidecar.read_text(encoding="utf-8"))
    with Image.open(grid) as image:
        image.load()
        picture = image.convert("RGB")
    return result, document, picture, read_events(stream)


@pytest.fixture
def photos(fixtures_dir: Path) -> Path:
    return fixtures_dir / "images" / "photos"


@pytest.fixture
def odd(fixtures_dir: Path) -> Path:
    return fixtures_dir / "images" / "odd"


@pytest.fixture
def run(tmp_path: Path, photos: Path) -> Path:
    """Three steps (plus step 0) of two prompts, older and newer name schemes mixed."""
    samples = tmp_path / "output" / "validation_images"
    plan = {
        0: ("astronaut.png", "coffee.png"),
        100: ("camera.png", "chelsea.png"),
        200: ("rocket.jpg", "horse.png"),
        1000: ("coins.png", "ihc.png"),
    }
    for step, (portrait, body) in plan.items():
        copy_as(photos / portrait, samples / f"step_{step}_portrait_512x512.png")
        copy_as(photos / body, samples / f"step_{step}_character_full_body_0_600x400.png")
    return tmp_path / "output"


def test_grid_rows_newest_first(run: Path, tmp_path: Path):
    result, document, picture, events = build(run, tmp_path)

    assert document["rows"] == [1000, 200, 100]
    assert document["columns"] == ["character_full_body", "portrait"]
    assert len(document["cells"]) == 6
    assert [cell["step"] for cell in document["cells"]] == [1000, 1000, 200, 200, 100, 100]
    assert document["config"] == "demo"
    assert (document["width"], document["height"]) == picture.size
    assert result.rows == [1000, 200, 100]
    assert result.cells == 6
    assert result.bad_cells == 0
    assert result.to_dict()["grid"] == str(tmp_path / "grid.jpg")


def test_grid_progress_lines(run: Path, tmp_path: Path):
    _, _, _, events = build(run, tmp_path)
    progress = [event for event in events if event["type"] == "progress"]
    assert len(progress) == 6
    assert [event["done"] for event in progress] == [1, 2, 3, 4, 5, 6]
    assert all(event["total"] == 6 for event in progress)


def test_grid_cells_show_sources(run: Path, tmp_path: Path):
    _, document, picture, _ = build(run, tmp_path)
    sources = [open_source(str(run / cell["source"])) for cell in document["cells"]]
    for number, cell in enumerate(document["cells"]):
        assert cell["error"] is None
        shown = crop_cell(picture, cell)
        own = mean_difference(shown, sources[number])
        other = mean_difference(shown, sources[(number + 1) % len(sources)])
        assert own < SAME_IMAGE_MAX_DIFFERENCE, cell["source"]
        assert other > own + OTHER_IMAGE_MIN_MARGIN, cell["source"]


def test_grid_step_zero_only_with_base(run: Path, tmp_path: Path, photos: Path):
    base = run / "benchmarks" / "base_model"
    copy_as(photos / "brick.png", base / "portrait_512x512.png")

    _, document, picture, _ = build(run, tmp_path, include_base=True)

    assert document["rows"] == [1000, 200, 100, 0, "base"]
    base_cells = [cell for cell in document["cells"] if cell["step"] == "base"]
    assert [cell["shortname"] for cell in base_cells] == ["character_full_body", "portrait"]
    assert base_cells[0]["error"] == "missing sample"
    assert base_cells[0]["source"] is None
    assert base_cells[1]["source"] == "benchmarks/base_model/portrait_512x512.png"
    shown = crop_cell(picture, base_cells[1])
    assert mean_difference(shown, open_source(str(base / "portrait_512x512.png"))) < SAME_IMAGE_MAX_DIFFERENCE


def test_grid_without_base_images_warns(run: Path, tmp_path: Path):
    result, document, _, events = build(run, tmp_path, include_base=True)
    assert document["rows"] == [1000, 200, 100, 0]
    assert any("base model images" in message for message in result.warnings)
    assert any(event["type"] == "warning" and "base model images" in event["message"] for event in events)


def test_composite_crop_picks_right_half(tmp_path: Path, photos: Path):
    samples = tmp_path / "output" / "validation_images"
    samples.mkdir(parents=True)
    make_composite(photos / "astronaut.png", samples / "step_10_portrait_0_256x256.png", 256, 256)
    make_composite(photos / "coffee.png", samples / "step_20_portrait_0_256x256.png", 256, 256)

    _, document, picture, _ = build(tmp_path / "output", tmp_path)

    expected = {10: "astronaut.png", 20: "coffee.png"}
    for cell in document["cells"]:
        shown = crop_cell(picture, cell)
        photo = open_source(str(photos / expected[cell["step"]])).resize((256, 256))
        red = Image.new("RGB", (256, 256), (255, 0, 0))
        assert cell["w"] == cell["h"]
        assert mean_difference(shown, photo) < SAME_IMAGE_MAX_DIFFERENCE
        assert mean_difference(shown, red) > 60


def test_keep_composite_shows_both_halves(tmp_path: Path, photos: Path):
    samples = tmp_path / "output" / "validation_images"
    samples.mkdir(parents=True)
    make_composite(photos / "astronaut.png", samples / "step_10_portrait_0_256x256.png", 256, 256)

    _, document, picture, _ = build(tmp_path / "output", tmp_path, keep_composite=True)

    cell = document["cells"][0]
    shown = crop_cell(picture, cell)
    assert abs(cell["w"] - 2 * cell["h"]) <= 2
    left = shown.crop((0, 0, shown.width // 2, shown.height))
    red_pixel = left.resize((1, 1), Image.BOX).getpixel((0, 0))
    assert red_pixel[0] > 200
    assert red_pixel[1] < 50
    assert red_pixel[2] < 50


def test_bad_files_become_marked_cells(tmp_path: Path, photos: Path, odd: Path):
    samples = tmp_path / "output" / "validation_images"
    sources: Dict[str, Path] = {}
    for number, path in enumerate(sorted(odd.iterdir())):
        sources[path.name] = copy_as(path, samples / f"step_{100 + number}_odd_64x64.png")
    bad = make_bad_files(tmp_path / "bad", photos / "astronaut.png")
    for number, (kind, path) in enumerate(sorted(bad.items())):
        sources[kind] = copy_as(path, samples / f"step_{500 + number}_odd_1_64x64.png")
    copy_as(photos / "camera.png", samples / "step_900_odd_64x64.png")

    result, document, picture, _ = build(tmp_path / "output", tmp_path)

    by_source = {cell["source"]: cell for cell in document["cells"] if cell["source"]}
    should_fail = BROKEN_NAMES | {"empty", "text", "truncated"}
    for label, path in sources.items():
        cell = by_source[f"validation_images/{path.name}"]
        if label in should_fail:
            assert cell["error"], label
            shown = crop_cell(picture, cell)
            corner = shown.crop((0, 0, 4, 4)).resize((1, 1), Image.BOX).getpixel((0, 0))
            assert all(abs(channel - 128) < 12 for channel in corner), label
        else:
            assert cell["error"] is None, f"{label}: {cell['error']}"
    assert result.bad_cells == len(should_fail)
    assert by_source[f"validation_images/{sources['empty'].name}"]["error"] == "empty file"
    assert "decompression bomb" in by_source[f"validation_images/{sources['decompression_bomb.gif'].name}"]["error"]
    assert by_source[f"validation_images/{sources['truncated'].name}"]["error"] == "truncated file"


def test_missing_cells_are_not_bad(tmp_path: Path, photos: Path):
    samples = tmp_path / "output" / "validation_images"
    copy_as(photos / "camera.png", samples / "step_10_portrait_512x512.png")
    copy_as(photos / "coffee.png", samples / "step_20_scene_512x512.png")

    result, document, _, _ = build(tmp_path / "output", tmp_path)

    assert result.bad_cells == 0
    missing = [cell for cell in document["cells"] if cell["source"] is None]
    assert len(missing) == 2
    assert all(cell["error"] == "missing sample" for cell in missing)


def test_grid_stays_within_pixel_budget(tmp_path: Path, photos: Path):
    samples = tmp_path / "output" / "validation_images"
    for step in (100, 200, 300, 400):
        for shortname in ("a", "b", "c"):
            copy_as(photos / "retina.jpg", samples / f"step_{step}_{shortname}_1411x1411.jpg")

    result, document, picture, _ = build(tmp_path / "output", tmp_path, max_pixels=2_000_000)

    assert picture.width * picture.height <= 2_000_000
    assert len(document["cells"]) == 12
    assert result.bad_cells == 0
    cell = document["cells"][0]
    source = tmp_path / "output" / cell["source"]
    assert mean_difference(crop_cell(picture, cell), open_source(str(source))) < SAME_IMAGE_MAX_DIFFERENCE


def test_grid_side_within_jpeg_limit(tmp_path: Path):
    samples = tmp_path / "output" / "validation_images"
    samples.mkdir(parents=True)
    strip = Image.new("RGB", (24000, 40), (0, 128, 255))
    for shortname in ("a", "b", "c", "d"):
        strip.save(samples / f"step_10_{shortname}_24000x40.png")

    result, _, picture, _ = build(tmp_path / "output", tmp_path)

    assert picture.width <= JPEG_MAX_SIDE
    assert picture.height <= JPEG_MAX_SIDE
    assert result.width == picture.width


def test_videos_and_unrecognised_warn(run: Path, tmp_path: Path):
    samples = run / "validation_images"
    (samples / "step_100_walk_0_512x512.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (samples / "notes.txt").write_text("hello", encoding="utf-8")

    result, document, _, _ = build(run, tmp_path)

    assert "walk" not in document["columns"]
    assert any("video" in message for message in result.warnings)
    assert any("notes.txt" in message for message in result.warnings)


def test_grid_prompts_in_sidecar(run: Path, tmp_path: Path):
    prompts = {"portrait": "a portrait", "character_full_body_0": "full body"}
    _, document, _, _ = build(run, tmp_path, prompts=prompts)
    by_shortname = {cell["shortname"]: cell["prompt"] for cell in document["cells"]}
    assert by_shortname == {"portrait": "a portrait", "character_full_body": "full body"}


def test_grid_no_samples_fails(tmp_path: Path):
    (tmp_path / "output" / "validation_images").mkdir(parents=True)
    with pytest.raises(AgentFailure) as caught:
        build(tmp_path / "output", tmp_path)
    assert caught.value.kind == "no_samples"


def test_grid_leaves_no_temporary_files(run: Path, tmp_path: Path):
    build(run, tmp_path)
    leftovers = [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    assert leftovers == []


# ---------------------------------------------------------------- operations through load_config


def make_workspace(tmp_path: Path, photos: Path) -> WorkspaceLayout:
    pytest.importorskip("ppdesk.core.scan")
    layout = WorkspaceLayout.from_root(str(tmp_path / "workspace"))
    config = Path(layout.config_dir) / "team" / "demo_run"
    config.mkdir(parents=True)
    settings = {"output_dir": "output/demo_run", "validation_prompt": "a photo of sks"}
    (config / "config.json").write_text(json.dumps(settings), encoding="utf-8")
    (config / "user_prompt_library.json").write_text(json.dumps({"portrait": "portrait prompt"}), encoding="utf-8")
    samples = Path(layout.output_dir) / "demo_run" / "validation_images"
    copy_as(photos / "camera.png", samples / "step_100_portrait_512x512.png")
    copy_as(photos / "coffee.png", samples / "step_100_validation_512x512.png")
    copy_as(photos / "rocket.jpg", samples / "step_200_portrait_512x512.png")
    return layout


def run_op(function, layout: WorkspaceLayout, args: dict) -> List[dict]:
    stream = io.StringIO()
    emit = Emitter(stream)
    emit.result(function(layout, args, emit))
    return read_events(stream)


def test_op_validation_grid_writes_files(tmp_path: Path, photos: Path):
    layout = make_workspace(tmp_path, photos)
    events = run_op(op_validation_grid, layout, {"config": "team/demo_run"})

    assert events[-1]["type"] == "result"
    data = events[-1]["data"]
    folder = Path(layout.config_dir) / "team" / "demo_run"
    assert data["grid"] == str(folder / "demo_run-validation-grid.jpg")
    assert data["sidecar"] == str(folder / "demo_run-validation-grid.json")
    assert data["rows"] == [200, 100]
    assert data["cells"] == 4
    assert data["bad_cells"] == 0
    with Image.open(data["grid"]) as image:
        assert image.size == (data["width"], data["height"])
    document = json.loads(Path(data["sidecar"]).read_text(encoding="utf-8"))
    prompts = {(cell["step"], cell["shortname"]): cell["prompt"] for cell in document["cells"]}
    assert prompts[(200, "portrait")] == "portrait prompt"
    assert prompts[(100, "validation")] == "a photo of sks"
    assert [event["type"] for event in events].count("progress") == 4


def test_op_validation_grid_rejects_bad_args(tmp_path: Path, photos: Path):
    layout = make_workspace(tmp_path, photos)
    for args in ({"config": "team/demo_run", "max_pixels": "big"}, {"config": "team/demo_run", "include_base": "yes"}, {}):
        with pytest.raises(AgentFailure) as caught:
            op_validation_grid(layout, args, Emitter(io.StringIO()))
        assert caught.value.kind == "invalid_request"


def test_op_list_samples_returns_prompts(tmp_path: Path, photos: Path):
    layout = make_workspace(tmp_path, photos)
    events = run_op(op_list_samples, layout, {"config": "team/demo_run"})

    data = events[-1]["data"]
    assert [sample["name"] for sample in data["samples"]] == [
        "step_100_portrait_512x512.png",
        "step_100_validation_512x512.png",
        "step_200_portrait_512x512.png",
    ]
    assert data["prompts"] == {"portrait": "portrait prompt"}
    assert data["validation_prompt"] == "a photo of sks"
    assert data["base_images"] == []
