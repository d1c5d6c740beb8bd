"""Dataset folders and the prompt library of a config.

The data backend file (``multidatabackend.json``) lists SimpleTuner's data
backends. Only local image backends give folders on this machine; every
other entry is reported as skipped with a reason. Reasons and results never
contain backend fields other than the id, type, dataset_type and
instance_data_dir, so bucket names and access keys of remote backends stay
out of logs and agent output.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .layout import WorkspaceLayout
from .outputs import find_placeholders, path_setting, resolve_setting_path

log = logging.getLogger(__name__)

BACKEND_FILE_NAME = "multidatabackend.json"
PROMPT_LIBRARY_NAME = "user_prompt_library.json"

# dataset_type values whose entries hold cached embeddings instead of image files.
EMBEDDING_DATASET_TYPES = frozenset({"text_embeds", "image_embeds", "conditioning_image_embeds"})


@dataclass
class SkippedDataset:
    """A backend entry that gives no local folder, and why."""

    id: str
    reason: str

    def to_dict(self) -> Dict[str, str]:
        return asdict(self)


@dataclass
class DatasetResolution:
    """Local dataset folders of one config.

    ``datasets`` are absolute folders, each listed once even when several
    backends (for example one per resolution) read the same folder, in the
    order of their first backend. ``backend_file`` is the data backend file
    that was read, or None.
    """

    backend_file: Optional[str] = None
    datasets: List[str] = field(default_factory=list)
    skipped: List[SkippedDataset] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)


def find_backend_file(
    layout: WorkspaceLayout, config_folder: str, settings: Dict[str, Any], warnings: List[str]
) -> Optional[str]:
    """Return the data backend file of a config, or None when there is none.

    ``data_backend_config`` wins when it names an existing file; otherwise
    ``<config folder>/multidatabackend.json`` is used when present. Each
    fallback and each missing file adds a warning.
    """
    configured = path_setting(layout.simpletuner, settings, "data_backend_config", warnings)
    if configured is not None and os.path.isfile(configured):
        return configured

    fallback = os.path.join(config_folder, BACKEND_FILE_NAME)
    if configured is not None:
        warnings.append(f"data backend file {configured} from data_backend_config not found")
    if os.path.isfile(fallback):
        return os.path.abspath(fallback)
    if configured is None:
        warnings.append(f"no data backend file: data_backend_config is unset or unusable and {fallback} does not exist")
    return None


def read_backends(path: str) -> List[Any]:
    """Read a data backend file.

    Raises ValueError naming the path unless the file is a JSON list, and
    OSError when it cannot be read.
    """
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except ValueError as exc:
        raise ValueError(f"data backend file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, list):
        raise ValueError(f"data backend file {path} must contain a JSON list, found {type(data).__name__}")
    return data


def local_dataset_folders(backends: List[Any], simpletuner: str) -> DatasetResolution:
    """Split backend entries into local image folders and skipped entries."""
    resolution = DatasetResolution()
    seen = set()
    for position, backend in enumerate(backends, start=1):
        backend_id = _backend_id(backend, position)
        folder, reason = _local_folder(backend, simpletuner)
        if reason is not None:
            resolution.skipped.append(SkippedDataset(id=backend_id, reason=reason))
            continue
        if folder not in seen:
            seen.add(folder)
            resolution.datasets.append(folder)
    return resolution


def _backend_id(backend: Any, position: int) -> str:
    if isinstance(backend, dict) and isinstance(backend.get("id"), str) and backend["id"]:
        return backend["id"]
    return f"backend #{position}"


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _local_folder(backend: Any, simpletuner: str) -> Tuple[Optional[str], Optional[str]]:
    """Return ``(absolute folder, None)`` for a usable local backend, else ``(None, reason)``."""
    if not isinstance(backend, dict):
        return None, "entry is not a JSON object"
    if _is_true(backend.get("disabled")) or _is_true(backend.get("disable")):
        return None, "disabled"
    dataset_type = backend.get("dataset_type")
    if dataset_type in EMBEDDING_DATASET_TYPES:
        return None, f"dataset_type {dataset_type} holds cached embeddings, not images"
    backend_type = backend.get("type")
    if backend_type is None:
        return None, "no type given"
    if backend_type != "local":
        return None, f"type {backend_type!r} is not a local folder"

    value = backend.get("instance_data_dir")
    if not isinstance(value, str) or not value.strip():
        return None, "local backend without instance_data_dir"
    placeholders = find_placeholders(value)
    if placeholders:
        return None, f"instance_data_dir {value!r} contains unresolved placeholders ({', '.join(placeholders)})"
    folder = resolve_setting_path(simpletuner, value.strip())
    if not os.path.isdir(folder):
        return None, f"folder not found: {folder}"
    return folder, None


def resolve_datasets(layout: WorkspaceLayout, config_folder: str, settings: Dict[str, Any]) -> DatasetResolution:
    """Find the local dataset folders of a config from its data backend file.

    A missing, unreadable or invalid backend file gives an empty result
    with a warning instead of an exception.
    """
    warnings: List[str] = []
    backend_file = find_backend_file(layout, config_folder, settings, warnings)
    if backend_file is None:
        return DatasetResolution(warnings=warnings)

    try:
        backends = read_backends(backend_file)
    except (OSError, ValueError) as exc:
        log.warning("failed to use data backend file %s: %s", backend_file, exc)
        if isinstance(exc, ValueError):
            warnings.append(str(exc))
        else:
            warnings.append(f"failed to read {backend_file}: {exc}")
        return DatasetResolution(backend_file=backend_file, warnings=warnings)

    resolution = local_dataset_folders(backends, layout.simpletuner)
    resolution.backend_file = backend_file
    resolution.warnings = warnings + resolution.warnings
    return resolution


def resolve_prompt_library(
    layout: WorkspaceLayout, config_folder: str, settings: Dict[str, Any], warnings: List[str]
) -> Optional[str]:
    """Return the user prompt library file of a config, or None.

    The ``user_prompt_library`` setting wins when it names an existing file;
    otherwise ``<config folder>/user_prompt_library.json`` is used when
    present. A setting that names a missing file adds a warning.
    """
    configured = path_setting(layout.simpletuner, settings, "user_prompt_library", warnings)
    if configured is not None:
        if os.path.isfile(configured):
            return configured
        warnings.append(f"prompt library {configured} from user_prompt_library not found")
    fallback = os.path.join(config_folder, PROMPT_LIBRARY_NAME)
    if os.path.isfile(fallback):
        return os.path.abspath(fallback)
    return None
