"""The image viewer: a zoomable view, background loading and validation grid cells."""

from __future__ import annotations

from .grid_overlay import GridOverlay
from .image_view import ImageView
from .loader import ImageLoader, LoadedImage
from .sidecar import GridCell, GridSidecar, SidecarError, load_sidecar
from .window import ImageViewerWindow

__all__ = [
    "GridCell",
    "GridOverlay",
    "GridSidecar",
    "ImageLoader",
    "ImageView",
    "ImageViewerWindow",
    "LoadedImage",
    "SidecarError",
    "load_sidecar",
]
