"""The post-processing tools, keyed by their command-line names.

``ORDER`` is the order a post-process run uses: move the LoRAs, build the
grids (so that the config backup includes them), then download.
"""

from __future__ import annotations

from typing import Dict, FrozenSet, Iterable, List, Type

from ppdesk.tools.base import Tool
from ppdesk.tools.dataset_grid import DatasetGrid
from ppdesk.tools.download_config import DownloadConfig
from ppdesk.tools.download_output import DownloadOutput
from ppdesk.tools.lora_mover import LoraMover
from ppdesk.tools.validation_grid import ValidationGrid

TOOLS: Dict[str, Type[Tool]] = {
    LoraMover.key: LoraMover,
    ValidationGrid.key: ValidationGrid,
    DatasetGrid.key: DatasetGrid,
    DownloadConfig.key: DownloadConfig,
    DownloadOutput.key: DownloadOutput,
}
ORDER: List[str] = ["lm", "vg", "dg", "dc", "do"]
# The LoRA mover copies on the pod only; every other tool writes into the local destination.
POD_ONLY: FrozenSet[str] = frozenset({LoraMover.key})


def needs_destination(keys: Iterable[str]) -> bool:
    """Return True when any of the tools ``keys`` writes files into the local destination."""
    return any(key not in POD_ONLY for key in keys)
