"""The ``scan`` operation: every config of a workspace with its output, checkpoints and datasets.

The scan reads names and small text files only. It opens no image, hashes
nothing, and counts validation samples by file name, so one call stays quick
in a workspace with hundreds of configs. A config whose file cannot be
parsed stays in the result with its error; no single config stops the scan.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

from .checkpoints import final_weights, list_checkpoints, newest_complete
from .configs import ConfigLocation, ConfigParseError, discover_configs, locate_config, read_config
from .datasets import resolve_datasets, resolve_prompt_library
from .families import family_of, group_families
from .layout import WorkspaceLayout
from .outputs import resolve_output, text_setting
from .protocol import AgentFailure, Emitter
from .samples import list_samples

log = logging.getLogger(__name__)


@dataclass
class ConfigData:
    """Scan result for one config; ``to_dict`` gives the agent's JSON form.

    Paths are absolute. ``checkpoints`` and ``incomplete_checkpoints`` are
    steps in ascending order. ``validation_samples`` counts every sample file
    whose name parses (images and videos); ``unrecognised_samples`` counts the
    other files in the samples folder.
    """

    name: str
    family: str
    path: str
    config_file: Optional[str] = None
    format: Optional[str] = None
    errors: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    model_family: Optional[str] = None
    output: Optional[str] = None
    output_rule: Optional[str] = None
    output_exists: bool = False
    checkpoints: List[int] = field(default_factory=list)
    incomplete_checkpoints: List[int] = field(default_factory=list)
    newest_checkpoint: Optional[int] = None
    final_weights: List[str] = field(default_factory=list)
    validation_samples: int = 0
    unrecognised_samples: int = 0
    datasets: List[str] = field(default_factory=list)
    skipped_datasets: List[Dict[str, str]] = field(default_factory=list)
    prompt_library: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def scan_config(layout: WorkspaceLayout, location: ConfigLocation) -> ConfigData:
    """Collect everything the scan reports about one config.

    Parse errors and unreadable folders are added to ``errors`` instead of being raised.
    """
    data = ConfigData(
        name=location.name,
        family=family_of(location.name),
        path=os.path.abspath(location.path),
        config_file=location.config_file,
        format=location.format,
    )

    settings = _read_settings(location, data)
    data.model_family = text_setting(settings, "model_family", data.warnings)

    output = resolve_output(layout, location.name, settings)
    data.output, data.output_rule, data.output_exists = output.path, output.rule, output.exists
    data.warnings.extend(output.warnings)
    if output.exists and output.path is not None:
        _add_output_contents(output.path, data)

    datasets = resolve_datasets(layout, location.path, settings)
    data.datasets = datasets.datasets
    data.skipped_datasets = [skipped.to_dict() for skipped in datasets.skipped]
    data.warnings.extend(datasets.warnings)

    data.prompt_library = resolve_prompt_library(layout, location.path, settings, data.warnings)
    return data


def _read_settings(location: ConfigLocation, data: ConfigData) -> Dict[str, Any]:
    if location.config_file is None or location.format is None:
        data.errors.append(f"no config.json, config.toml or config.env in {location.path}")
        return {}
    try:
        parsed = read_config(location.config_file, location.format)
    except ConfigParseError as exc:
        log.info("failed to parse config %s: %s", location.name, exc)
        data.errors.append(str(exc))
        return {}
    data.warnings.extend(parsed.warnings)
    return parsed.settings


def _add_output_contents(output_dir: str, data: ConfigData) -> None:
    """Fill checkpoints, final weights and sample counts. An unreadable folder adds an error."""
    try:
        checkpoints = list_checkpoints(output_dir)
        data.final_weights = final_weights(output_dir)
        listing = list_samples(output_dir)
    except OSError as exc:
        log.warning("failed to read output folder %s: %s", output_dir, exc)
        data.errors.append(f"failed to read output folder {output_dir}: {exc}")
        return

    for checkpoint in checkpoints:
        if checkpoint.complete:
            data.checkpoints.append(checkpoint.step)
        else:
            data.incomplete_checkpoints.append(checkpoint.step)
            data.warnings.append(f"checkpoint-{checkpoint.step} is incomplete: {checkpoint.reason}")
    newest = newest_complete(checkpoints)
    data.newest_checkpoint = newest.step if newest is not None else None

    data.validation_samples = len(listing.samples)
    data.unrecognised_samples = len(listing.unrecognised)


def load_config(layout: WorkspaceLayout, name: str) -> Dict[str, Any]:
    """Return the ConfigData dict of one config, as ``scan`` reports it.

    Raises AgentFailure("invalid_request") for a name that is absolute or has
    ``..`` segments, and AgentFailure("not_found") when no config of that
    name exists under the layout's config folder.
    """
    try:
        location = locate_config(layout.config_dir, name)
    except ValueError as exc:
        raise AgentFailure("invalid_request", str(exc)) from exc
    if location is None:
        raise AgentFailure("not_found", f"config {name!r} not found in {layout.config_dir}")
    return scan_config(layout, location).to_dict()


def op_scan(layout: WorkspaceLayout, args: Dict[str, Any], emit: Emitter) -> Dict[str, Any]:
    """Scan every config of the workspace; emits one progress line per config.

    Returns ScanData: ``layout``, workspace-level ``errors`` (such as a
    missing config folder), ``configs`` in natural name order and
    ``families`` mapping each family to its config names. ``args`` is unused.
    """
    errors: List[str] = []
    configs: List[Dict[str, Any]] = []
    locations = _discover(layout.config_dir, errors)

    total = len(locations)
    for done, location in enumerate(locations, start=1):
        configs.append(scan_config(layout, location).to_dict())
        emit.progress(done, total, f"scanned {location.name}")

    log.info("scanned %d configs in %s", total, layout.config_dir)
    return {
        "layout": layout.to_dict(),
        "errors": errors,
        "configs": configs,
        "families": group_families(config["name"] for config in configs),
    }


def _discover(config_dir: str, errors: List[str]) -> List[ConfigLocation]:
    if not os.path.isdir(config_dir):
        errors.append(
            f"config folder not found: {config_dir}; check the workspace root and SimpleTuner folder settings"
        )
        return []
    try:
        discovery = discover_configs(config_dir)
    except OSError as exc:
        log.warning("failed to list config folder %s: %s", config_dir, exc)
        errors.append(f"failed to list config folder {config_dir}: {exc}")
        return []
    errors.extend(discovery.problems)
    return discovery.locations
