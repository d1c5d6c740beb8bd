"""Listing the files a grid is made of, without Pillow.

These operations run on a pod whose Python lacks Pillow, so that the client
can fetch the samples or dataset images and compose the grid itself. Each
listed file carries its size and mtime, so the client plans the download
without a round trip per file.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List

from .grids.sidecar_paths import output_location
from .layout import WorkspaceLayout
from .prompts import read_prompt_library, read_validation_prompt
from .protocol import AgentFailure, Emitter
from .samples import SAMPLES_FOLDER, list_samples, natural_key

BASE_FOLDER = os.path.join("benchmarks", "base_model")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tiff", ".tif", ".gif")
DEFAULT_LIMIT = 100


def op_list_samples(layout: WorkspaceLayout, args: Dict[str, Any], emit: Emitter) -> Dict[str, Any]:
    """List a config's validation samples, prompts and base images for composing a grid elsewhere.

    Returns ``{"config", "output", "output_location", "samples": [Sample.to_dict()],
    "unrecognised": [names], "prompts": {shortname: prompt} or null, "validation_prompt",
    "base_images": [paths], "files": [{"path", "rel", "size", "mtime"}]}``, where ``files``
    lists the image samples and base images with ``rel`` below the output folder, and
    ``output_location`` is the output folder as a grid sidecar records it (see
    grids.sidecar_paths.output_location).
    Raises AgentFailure("not_found") for an unknown config or a config without output folder.
    """
    config = _load_config(layout, args)
    output = _require_output(config)
    listing = list_samples(output)
    prompts, warning = read_prompt_library(config.get("prompt_library"))
    if warning:
        emit.warning(warning)
    samples = [sample.to_dict() for sample in listing.samples]
    base_images = _list_base_images(output)
    return {
        "config": config["name"],
        "output": output,
        "output_location": output_location(output, layout.root),
        "samples": samples,
        "unrecognised": list(listing.unrecognised),
        "prompts": prompts,
        "validation_prompt": read_validation_prompt(config),
        "base_images": base_images,
        "files": sample_files(output, samples, base_images),
    }


def op_list_dataset_images(layout: WorkspaceLayout, args: Dict[str, Any], emit: Emitter) -> Dict[str, Any]:
    """List the dataset images a dataset grid of ``limit`` images would show.

    args: ``{"config": name, "limit": int}``. Returns ``{"config", "total_images",
    "files": [{"path", "rel", "size", "mtime"}], "warnings": [str]}``, where
    ``rel`` is ``<position, 5 digits>-<file name>`` so the order survives a
    download into one folder. Raises AgentFailure("not_found") when the
    dataset folders hold no image.
    """
    config = _load_config(layout, args)
    limit = args.get("limit", DEFAULT_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise AgentFailure("invalid_request", f"argument 'limit' must be a positive integer, got {limit!r}")
    warnings: List[str] = []

    def warn(message: str) -> None:
        warnings.append(message)
        emit.warning(message)

    folders = list(config.get("datasets") or [])
    everything = find_dataset_images(folders, warn)
    if not everything:
        raise AgentFailure("not_found", f"no images ({', '.join(IMAGE_EXTENSIONS)}) in the dataset folders {folders}")
    chosen = pick_evenly(everything, limit)
    files = [_file_entry(path, f"{position:05d}-{os.path.basename(path)}") for position, path in enumerate(chosen)]
    return {"config": config["name"], "total_images": len(everything), "files": [f for f in files if f], "warnings": warnings}


def _file_entry(path: str, rel: str) -> Dict[str, Any]:
    """Return ``{"path", "rel", "size", "mtime"}``, or {} when the file cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return {}
    return {"path": path, "rel": rel, "size": st.st_size, "mtime": st.st_mtime}


def sample_files(output: str, samples: List[Dict[str, Any]], base_images: List[str]) -> List[Dict[str, Any]]:
    """Return the download entries of image samples and base images, ``rel`` below ``output``."""
    entries = []
    for sample in samples:
        if not sample.get("is_video"):
            entries.append(_file_entry(sample["path"], f"{SAMPLES_FOLDER}/{sample['name']}"))
    for path in base_images:
        entries.append(_file_entry(path, f"{BASE_FOLDER.replace(os.sep, '/')}/{os.path.basename(path)}"))
    return [entry for entry in entries if entry]


def _load_config(layout: WorkspaceLayout, args: Dict[str, Any]) -> Dict[str, Any]:
    name = args.get("config")
    if not isinstance(name, str) or not name:
        raise AgentFailure("invalid_request", f"argument 'config' must be a config name, got {name!r}")
    # Imported on use because build_validation_grid works on plain paths without the scan modules.
    from .scan import load_config

    return load_config(layout, name)


def _require_output(config: Dict[str, Any]) -> str:
    output = config.get("output")
    if not output or not os.path.isdir(output):
        raise AgentFailure(
            "not_found",
            f"output folder of config {config.get('name')!r} not found: {output}; "
            "check its output_dir setting or train it first",
        )
    return output


def _list_base_images(output_dir: str) -> List[str]:
    folder = os.path.join(output_dir, BASE_FOLDER)
    if not os.path.isdir(folder):
        return []
    names = [name for name in os.listdir(folder) if name.lower().endswith(".png")]
    return [os.path.join(folder, name) for name in sorted(names, key=natural_key)]


def find_dataset_images(folders: List[str], warn: Callable[[str], None]) -> List[str]:
    """Return every image file below ``folders`` (recursively), natural order, without duplicates.

    Hidden folders (names starting with ``.``) are skipped, which leaves out
    SimpleTuner's caches kept inside a dataset. A missing folder is reported
    through ``warn``.
    """
    found: List[str] = []
    seen = set()
    for folder in folders:
        if not os.path.isdir(folder):
            warn(f"dataset folder not found: {folder}")
            continue
        for path in _walk_images(folder):
            real = os.path.realpath(path)
            if real not in seen:
                seen.add(real)
                found.append(path)
    return found


def _walk_images(folder: str) -> List[str]:
    paths: List[str] = []
    for current, folder_names, file_names in os.walk(folder):
        folder_names[:] = [name for name in folder_names if not name.startswith(".")]
        for name in file_names:
            if name.lower().endswith(IMAGE_EXTENSIONS):
                paths.append(os.path.join(current, name))
    paths.sort(key=lambda path: natural_key(os.path.relpath(path, folder).replace(os.sep, "/")))
    return paths


def pick_evenly(items: List[str], limit: int) -> List[str]:
    """Return at most ``limit`` items spread evenly over ``items``, first and last included."""
    if len(items) <= limit:
        return list(items)
    if limit == 1:
        return [items[0]]
    step = (len(items) - 1) / (limit - 1)
    return [items[round(number * step)] for number in range(limit)]
