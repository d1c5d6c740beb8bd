"""Download config tool (key ``dc``): a local backup of the config folder."""

from __future__ import annotations

from typing import ClassVar

from ppdesk.tools.downloads import PlannedDownload


class DownloadConfig(PlannedDownload):
    """Download every file of the config folder into ``<dest>/<config name>/config/``."""

    key: ClassVar[str] = "dc"
    title: ClassVar[str] = "Download config"
    kind: ClassVar[str] = "config"
