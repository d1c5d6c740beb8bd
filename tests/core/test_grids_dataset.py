"""Dataset grid: sampling, orientation, bad images and the file size cap."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import List

import pytest
from PIL import Image, ImageChops

from ppdesk.core.grids.dataset import build_dataset_grid, find_dataset_images, op_dataset_grid, pick_evenly
from ppdesk.core.grids.labels import GRID_BACKGROUND
from ppdesk.core.layout import WorkspaceLayout
from ppdesk.core.protocol import AgentFailure, Emitter

try:
    from .grids_helpers import BROKEN_NAMES, copy_as, make_bad_files, read_events
except ImportError:
    from grids_helpers import BROKEN_NAMES, copy_as, make_bad_files, read_events  # type: ignore[no-redef]


@pytest.fixture
def photos(fixtures_dir: Path) -> Path:
    return fixtures_dir / "images" / "photos"


@pytest.fixture
def odd(fixtures_dir: Path) -> Path:
    return fixtures_dir / "images" / "odd"


def build(folders: List[Path], tmp_path: Path, **options) -> tuple:
    stream = io.StringIO()
    grid = tmp_path / "dataset-grid.jpg"
    result = build_dataset_grid([str(folder) for folder in folders], str(grid), "demo", Emitter(stream), **options)
    with Image.open(grid) as image:
        image.load()
        picture = image.convert("RGB")
    return result, picture, read_events(stream)


def test_pick_evenly_spreads_items():
    items = [str(number) for number in range(10)]
    assert pick_evenly(items, 20) == items
    assert pick_evenly(items, 4) == ["0", "3", "6", "9"]
    assert pick_evenly(items, 1) == ["0"]
    assert len(pick_evenly(items, 7)) == 7


def test_find_images_recursive_natural(tmp_path: Path, photos: Path):
    dataset = tmp_path / "set"
    copy_as(photos / "camera.png", dataset / "img10.png")
    copy_as(photos / "camera.png", dataset / "img9.png")
    copy_as(photos / "rocket.jpg", dataset / "sub" / "a.JPG")
    copy_as(photos / "rocket.jpg", dataset / ".cache" / "hidden.jpg")
    (dataset / "img9.txt").write_text("caption", encoding="utf-8")
    warnings: List[str] = []

    found = find_dataset_images([str(dataset), str(dataset), str(tmp_path / "gone")], warnings.append)

    assert [Path(path).relative_to(dataset).as_posix() for path in found] == ["img9.png", "img10.png", "sub/a.JPG"]
    assert warnings == [f"dataset folder not found: {tmp_path / 'gone'}"]


def test_dataset_grid_limit_and_count(tmp_path: Path, photos: Path):
    dataset = tmp_path / "set"
    for number, photo in enumerate(sorted(photos.iterdir())):
        copy_as(photo, dataset / f"part{number % 2}" / photo.name)

    result, picture, events = build([dataset], tmp_path, limit=5)

    assert result.images == 5
    assert result.total_images == 12
    assert result.bad_images == 0
    assert picture.size == (result.width, result.height)
    progress = [event for event in events if event["type"] == "progress"]
    assert [event["done"] for event in progress] == [1, 2, 3, 4, 5]
    assert result.to_dict()["grid"] == str(tmp_path / "dataset-grid.jpg")


def test_dataset_grid_near_square(tmp_path: Path, photos: Path):
    dataset = tmp_path / "set"
    for photo in sorted(photos.iterdir()):
        copy_as(photo, dataset / photo.name)

    result, picture, _ = build([dataset], tmp_path, cell_side=100)

    # 12 images in 4 columns and 3 rows of 100 px cells, below a title line.
    assert result.images == 12
    assert 400 <= picture.width < 500
    assert 300 < picture.height < 450


def content_box(cell: Image.Image) -> tuple:
    background = Image.new("RGB", cell.size, GRID_BACKGROUND)
    difference = ImageChops.difference(cell, background).convert("L").point(lambda value: 255 if value > 40 else 0)
    return difference.getbbox()


def test_dataset_grid_applies_exif_orientation(tmp_path: Path, odd: Path):
    dataset = tmp_path / "set"
    dataset.mkdir()
    # The fixture is square, so cut it to 128x64 keeping its orientation-6 EXIF tag.
    with Image.open(odd / "hopper_orientation_6.jpg") as source:
        exif = source.getexif()
        assert exif.get(0x0112) == 6
        source.crop((0, 0, 128, 64)).save(dataset / "wide_stored.jpg", exif=exif.tobytes())

    result, picture, _ = build([dataset], tmp_path, cell_side=200)

    assert result.bad_images == 0
    title = max(24, 200 // 6)
    gap = max(2, 200 // 40)
    cell = picture.crop((gap, title + gap, gap + 200, title + gap + 200))
    left, top, right, bottom = content_box(cell)
    # Rotated by 90 degrees, the stored 128x64 picture shows as 100x200 (portrait).
    assert bottom - top > 1.6 * (right - left)


def test_dataset_grid_marks_bad_images(tmp_path: Path, photos: Path, odd: Path):
    dataset = tmp_path / "set"
    for path in odd.iterdir():
        copy_as(path, dataset / path.name)
    make_bad_files(dataset, photos / "astronaut.png")

    result, _, events = build([dataset], tmp_path)

    assert result.total_images == len(list(odd.iterdir())) + 3
    assert result.bad_images == len(BROKEN_NAMES) + 3
    assert events[-1]["type"] == "progress"


def test_dataset_grid_under_size_cap(tmp_path: Path, photos: Path):
    dataset = tmp_path / "set"
    for photo in sorted(photos.iterdir()):
        copy_as(photo, dataset / photo.name)

    result, _, _ = build([dataset], tmp_path, cell_side=600, max_bytes=150_000)

    size = (tmp_path / "dataset-grid.jpg").stat().st_size
    assert size <= 150_000
    assert result.warnings == []
    assert result.width < 4 * 600


def test_dataset_grid_without_images_fails(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(AgentFailure) as caught:
        build([tmp_path / "empty"], tmp_path)
    assert caught.value.kind == "not_found"


def test_op_dataset_grid_writes_file(tmp_path: Path, photos: Path):
    pytest.importorskip("ppdesk.core.scan")
    layout = WorkspaceLayout.from_root(str(tmp_path / "workspace"))
    dataset = Path(layout.datasets_dir) / "sofia"
    for photo in sorted(photos.iterdir())[:6]:
        copy_as(photo, dataset / photo.name)
    config = Path(layout.config_dir) / "sofia_001"
    config.mkdir(parents=True)
    backends = [{"id": "sofia", "type": "local", "instance_data_dir": str(dataset)}]
    (config / "multidatabackend.json").write_text(json.dumps(backends), encoding="utf-8")
    settings = {"output_dir": "output/sofia_001", "data_backend_config": str(config / "multidatabackend.json")}
    (config / "config.json").write_text(json.dumps(settings), encoding="utf-8")

    stream = io.StringIO()
    emit = Emitter(stream)
    emit.result(op_dataset_grid(layout, {"config": "sofia_001", "limit": 4}, emit))
    events = read_events(stream)

    data = events[-1]["data"]
    assert data["grid"] == str(config / "sofia_001-dataset-grid.jpg")
    assert data["images"] == 4
    assert data["total_images"] == 6
    assert Path(data["grid"]).is_file()
    with pytest.raises(AgentFailure) as caught:
        op_dataset_grid(layout, {"config": "sofia_001", "limit": 0}, emit)
    assert caught.value.kind == "invalid_request"
