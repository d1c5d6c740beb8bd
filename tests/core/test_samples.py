"""Validation sample names: both SimpleTuner schemes and the listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ppdesk.core.samples import list_samples, parse_sample_name

# name -> (step, shortname, index, width, height, ext, is_video)
PARSED = {
    "step_100_portrait_1024x1024.png": (100, "portrait", None, 1024, 1024, "png", False),
    "step_100_character_full_body_1024x768.png": (100, "character_full_body", None, 1024, 768, "png", False),
    "step_250_character_full_body_3_768x1024.webp": (250, "character_full_body", 3, 768, 1024, "webp", False),
    "step_0_portrait_0_512x512.jpg": (0, "portrait", 0, 512, 512, "jpg", False),
    "step_7_object_scene_1_512x512.JPG": (7, "object_scene", 1, 512, 512, "jpg", False),
    "step_300_walk_cycle_2_480x832.mp4": (300, "walk_cycle", 2, 480, 832, "mp4", True),
    "step_300_walk_480x832.mp4": (300, "walk", None, 480, 832, "mp4", True),
    # A trailing all-digit segment is the index, so "pose_2" reads as pose #2.
    "step_10_pose_2_512x512.png": (10, "pose", 2, 512, 512, "png", False),
    # A single middle segment is always the shortname, digits or not.
    "step_10_42_512x512.png": (10, "42", None, 512, 512, "png", False),
    "step_10_v2_style_512x512.png": (10, "v2_style", None, 512, 512, "png", False),
}

UNRECOGNISED = [
    "notes.txt",
    "portrait_1024x1024.png",
    "step_x_portrait_1024x1024.png",
    "step_100_portrait.png",
    "step_100_portrait_1024x1024.gif",
    "step_100__1024x1024.png",
    "step_100_1024x1024.png",
]


@pytest.mark.parametrize("name", sorted(PARSED))
def test_parse_sample_name_table(name: str):
    sample = parse_sample_name(name, "/out/validation_images")
    assert sample is not None
    step, shortname, index, width, height, ext, is_video = PARSED[name]
    assert sample.step == step
    assert sample.shortname == shortname
    assert sample.index == index
    assert sample.width == width
    assert sample.height == height
    assert sample.ext == ext
    assert sample.is_video is is_video
    assert sample.path == "/out/validation_images/" + name
    assert sample.to_dict()["name"] == name


@pytest.mark.parametrize("name", UNRECOGNISED)
def test_parse_rejects_other_names(name: str):
    assert parse_sample_name(name) is None


def test_list_samples_missing_folder(tmp_path: Path):
    listing = list_samples(str(tmp_path / "no-such-output"))
    assert listing.samples == []
    assert listing.unrecognised == []


def test_list_samples_sorts_and_reports(tmp_path: Path):
    folder = tmp_path / "validation_images"
    folder.mkdir()
    names = [
        "step_1000_portrait_512x512.png",
        "step_200_portrait_512x512.png",
        "step_200_character_full_body_10_512x512.png",
        "step_200_character_full_body_2_512x512.png",
        "step_20_portrait_512x512.png",
        "file10.txt",
        "file9.txt",
    ]
    for name in names:
        (folder / name).write_bytes(b"x")
    (folder / "step_5_sub_512x512.png").mkdir()

    listing = list_samples(str(tmp_path))

    assert [s.name for s in listing.samples] == [
        "step_20_portrait_512x512.png",
        "step_200_character_full_body_2_512x512.png",
        "step_200_character_full_body_10_512x512.png",
        "step_200_portrait_512x512.png",
        "step_1000_portrait_512x512.png",
    ]
    assert listing.unrecognised == ["file9.txt", "file10.txt"]
    assert all(Path(s.path).parent == folder for s in listing.samples)
    assert listing.to_dict()["unrecognised"] == ["file9.txt", "file10.txt"]
