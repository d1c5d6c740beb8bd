"""Safe image loading: odd modes, orientation and files that cannot be drawn."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ppdesk.core.grids.images import load_fitted, read_info, to_rgb

try:
    from .grids_helpers import BROKEN_NAMES, make_bad_files
except ImportError:
    from grids_helpers import BROKEN_NAMES, make_bad_files  # type: ignore[no-redef]


@pytest.fixture
def odd(fixtures_dir: Path) -> Path:
    return fixtures_dir / "images" / "odd"


def test_odd_files_load_or_report(odd: Path):
    for path in sorted(odd.iterdir()):
        loaded = load_fitted(str(path), (50, 40))
        info = read_info(str(path))
        if path.name in BROKEN_NAMES:
            assert loaded.image is None, path.name
            assert loaded.error, path.name
            assert info.size is None, path.name
            assert info.error, path.name
        else:
            assert loaded.error is None, f"{path.name}: {loaded.error}"
            assert loaded.image is not None
            assert loaded.image.mode == "RGB"
            assert loaded.image.width <= 50
            assert loaded.image.height <= 40
            assert max(loaded.image.width / 50, loaded.image.height / 40) > 0.97


def test_bad_files_report_reasons(tmp_path: Path, fixtures_dir: Path):
    bad = make_bad_files(tmp_path, fixtures_dir / "images" / "photos" / "astronaut.png")
    assert load_fitted(str(bad["empty"]), (32, 32)).error == "empty file"
    assert load_fitted(str(bad["text"]), (32, 32)).error == "not an image Pillow can read"
    assert load_fitted(str(bad["truncated"]), (32, 32)).error == "truncated file"
    assert load_fitted(str(tmp_path / "gone.png"), (32, 32)).error == "file not found"


def test_decompression_bomb_rejected(odd: Path):
    loaded = load_fitted(str(odd / "decompression_bomb.gif"), (64, 64))
    assert loaded.image is None
    assert loaded.error == "too many pixels (decompression bomb)"


def test_exif_orientation_swaps_size(tmp_path: Path, odd: Path):
    with Image.open(odd / "hopper_orientation_6.jpg") as source:
        exif = source.getexif()
        source.crop((0, 0, 128, 64)).save(tmp_path / "wide.jpg", exif=exif.tobytes())
    assert read_info(str(tmp_path / "wide.jpg")).size == (64, 128)
    loaded = load_fitted(str(tmp_path / "wide.jpg"), (100, 100))
    assert loaded.image is not None
    assert loaded.image.size == (50, 100)


def test_sixteen_bit_scaled_not_clipped():
    image = Image.new("I;16", (256, 1))
    image.putdata([value * 256 for value in range(256)])
    rgb = to_rgb(image)
    assert rgb.mode == "RGB"
    assert rgb.getpixel((0, 0)) == (0, 0, 0)
    assert rgb.getpixel((255, 0))[0] >= 250
    assert 120 <= rgb.getpixel((128, 0))[0] <= 135


def test_transparency_on_white(odd: Path):
    transparent = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert to_rgb(transparent).getpixel((0, 0)) == (255, 255, 255)
    assert to_rgb(transparent, (128, 128, 128)).getpixel((0, 0)) == (128, 128, 128)
    with Image.open(odd / "apng_mode_palette_alpha.png") as palette:
        palette.load()
        assert palette.mode == "P"
        assert to_rgb(palette).mode == "RGB"


def test_cmyk_converted(odd: Path):
    with Image.open(odd / "pil_sample_cmyk.jpg") as cmyk:
        cmyk.load()
        assert cmyk.mode == "CMYK"
        assert to_rgb(cmyk).mode == "RGB"


def test_crop_box_applied(tmp_path: Path):
    image = Image.new("RGB", (200, 100), (255, 0, 0))
    image.paste((0, 0, 255), (100, 0, 200, 100))
    image.save(tmp_path / "halves.png")
    loaded = load_fitted(str(tmp_path / "halves.png"), (50, 50), crop=lambda size: (0.5, 0.0, 1.0, 1.0))
    assert loaded.image is not None
    assert loaded.image.size == (50, 50)
    assert loaded.image.getpixel((25, 25)) == (0, 0, 255)


def test_large_jpeg_scaled_down(tmp_path: Path):
    Image.new("RGB", (4000, 3000), (10, 200, 30)).save(tmp_path / "big.jpg", quality=90)
    loaded = load_fitted(str(tmp_path / "big.jpg"), (100, 100))
    assert loaded.image is not None
    assert loaded.image.size == (100, 75)
    red, green, blue = loaded.image.getpixel((50, 37))
    assert green > 180
