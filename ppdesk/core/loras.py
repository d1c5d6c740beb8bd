"""LoRA mover: copy a config's checkpoint weights into ComfyUI's loras folder.

Each complete checkpoint's weight file lands as
``<loras>/<model_family or "other">/<family>/<last>/<last>-<step:05>.safetensors``
and the final weights as ``<last>-final.safetensors``, where ``<last>`` is the
last segment of the config name. Nothing on the pod is overwritten or deleted:
a destination with the same bytes is skipped, one with other bytes is left
alone and reported as a conflict. The one exception is the mover's own
hidden temporary files, which a later run deletes when an interrupted copy
left them behind.

Cancelling works through the progress lines: when the client closes the
connection or kills the process, the next progress line cannot be written,
and the copy in progress stops and removes its temporary file.
"""

from __future__ import annotations

import errno
import logging
import os
from typing import Any, Dict, List, Optional, Tuple

from .checkpoints import WEIGHT_NAMES
from .layout import WorkspaceLayout
from .move_progress import RunProgress, format_size
from .protocol import AgentFailure, Emitter
from .safe_copy import place_file, remove_stale_temporaries
from .scan import load_config

log = logging.getLogger(__name__)

SUFFIX = ".safetensors"
OTHER_FAMILY = "other"
# Default minimum seconds between two byte progress lines, and the largest a request may set.
PROGRESS_INTERVAL = 0.2
MAX_PROGRESS_INTERVAL = 60.0
# errno values that mean the destination's disk has no room for the file.
_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def op_move_loras(layout: WorkspaceLayout, args: Dict[str, Any], emit: Emitter) -> Dict[str, Any]:
    """Copy one config's checkpoint and final weights into the loras folder.

    args: ``{"config": name}``, with optional ``"progress_interval"`` (minimum
    seconds between two byte progress lines, default PROGRESS_INTERVAL; 0
    reports every chunk) and ``"cleanup_only": true``, which only deletes
    the temporary files that interrupted runs left in the config's folder.

    Returns ``{"copied", "skipped", "conflicts", "errors", "loras_dir",
    "folder", "removed_temporaries"}`` as described in the agent contract;
    ``removed_temporaries`` lists the leftover temporary files deleted
    before copying. With ``cleanup_only`` only the last three keys are set.
    Progress lines are described in :class:`RunProgress`.

    Raises AgentFailure ``invalid_request`` for a missing name or a bad
    interval, ``not_found`` for an unknown config and ``no_output`` when
    the output folder is missing. Raises ClientGone when a progress line
    cannot be written, after removing the temporary file of the copy.
    """
    name = args.get("config")
    if not isinstance(name, str) or not name:
        raise AgentFailure("invalid_request", "move_loras needs a 'config' name")
    interval = _progress_interval(args)
    config = load_config(layout, name)
    if args.get("cleanup_only"):
        folder, _last = destination_folder(layout, config, emit)
        return {"loras_dir": layout.loras_dir, "folder": folder, "removed_temporaries": _remove_leftovers(folder, emit)}
    output = config.get("output")
    if not output or not config.get("output_exists"):
        raise AgentFailure("no_output", f"config {name!r} has no output folder ({output or 'not set'})")

    folder, last = destination_folder(layout, config, emit)
    items = _plan(config, output, last)
    sizes = [_size(source) for source, _dest_name in items]
    removed = _remove_leftovers(folder, emit)
    result: Dict[str, Any] = {
        "copied": [], "skipped": [], "conflicts": [], "errors": [],
        "loras_dir": layout.loras_dir, "folder": folder, "removed_temporaries": removed,
    }
    progress = RunProgress(emit, len(items), sum(sizes), interval)

    for index, ((source, dest_name), size) in enumerate(zip(items, sizes), start=1):
        if source is None:
            result["errors"].append({"source": dest_name, "message": "no .safetensors weight file found"})
            progress.file_done(index, dest_name, "failed", f"no weights for {dest_name}", size)
            continue
        dest = os.path.join(folder, dest_name)
        try:
            os.makedirs(folder, exist_ok=True)
            outcome = place_file(source, dest, progress.reporter(dest_name))
        except OSError as exc:
            log.warning("copying %s to %s failed: %s", source, dest, exc)
            result["errors"].append({"source": source, "message": _copy_error(dest, exc, size)})
            progress.file_done(index, dest_name, "failed", f"failed {dest_name}", size)
            continue
        if outcome == "conflict":
            result["conflicts"].append(
                {"source": source, "dest": dest, "reason": "a different file already has this name; left unchanged"}
            )
        else:
            result[outcome].append(dest)
        progress.file_done(index, dest_name, outcome, f"{outcome} {dest_name}", size)
    return result


def _progress_interval(args: Dict[str, Any]) -> float:
    value = args.get("progress_interval", PROGRESS_INTERVAL)
    valid = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= MAX_PROGRESS_INTERVAL
    if not valid:
        raise AgentFailure(
            "invalid_request",
            f"'progress_interval' must be a number of seconds from 0 to {MAX_PROGRESS_INTERVAL:g}, got {value!r}",
        )
    return float(value)


def _size(path: Optional[str]) -> int:
    """Return the size of ``path`` in bytes, or 0 when there is no file to read."""
    if path is None:
        return 0
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _remove_leftovers(folder: str, emit: Emitter) -> List[str]:
    """Delete the temporary files of interrupted copies in ``folder`` and return their paths.

    A folder that cannot be listed gives a warning line and an empty list.
    """
    try:
        return remove_stale_temporaries(folder)
    except OSError as exc:
        log.warning("listing %s for leftover temporary files failed: %s", folder, exc)
        emit.warning(f"listing {folder} for temporary files of interrupted copies failed: {exc}; a later run tries again")
        return []


def _copy_error(dest: str, exc: OSError, size: int) -> str:
    """Return the per-file error message of a failed copy, with advice for a full disk."""
    if exc.errno in _DISK_FULL:
        return (
            f"copy to {dest} failed: {exc.strerror}; the file needs {format_size(size)}, "
            "so free space on that disk and run the mover again"
        )
    return f"copy to {dest} failed: {exc}"


def destination_folder(layout: WorkspaceLayout, config: Dict[str, Any], emit: Emitter) -> Tuple[str, str]:
    """Return the config's folder below the loras folder and the config's last name segment."""
    last = config["name"].rsplit("/", 1)[-1]
    model_family = config.get("model_family") or OTHER_FAMILY
    if not _is_plain_segment(model_family):
        emit.warning(f"model_family {model_family!r} is not a plain folder name; using {OTHER_FAMILY!r}")
        model_family = OTHER_FAMILY
    for segment in (config["family"], last):
        if not _is_plain_segment(segment):
            raise AgentFailure("invalid_request", f"config name segment {segment!r} cannot be a folder name")
    return os.path.join(layout.loras_dir, model_family, config["family"], last), last


def _is_plain_segment(value: str) -> bool:
    return bool(value) and value not in (".", "..") and not any(c in value for c in "/\\\0")


def _plan(config: Dict[str, Any], output: str, last: str) -> List[Tuple[Optional[str], str]]:
    """List (source or None, destination file name) for every checkpoint and the final weights."""
    items: List[Tuple[Optional[str], str]] = []
    for step in config.get("checkpoints") or []:
        folder = os.path.join(output, f"checkpoint-{step}")
        candidates = [os.path.join(folder, weight) for weight in WEIGHT_NAMES]
        items.append((_preferred(candidates), f"{last}-{int(step):05d}{SUFFIX}"))
    finals = config.get("final_weights") or []
    if finals:
        items.append((_preferred(_by_preference(finals)), f"{last}-final{SUFFIX}"))
    return items


def _by_preference(paths: List[str]) -> List[str]:
    """Order paths by the position of their file name in WEIGHT_NAMES, unknown names last."""
    order = {weight: index for index, weight in enumerate(WEIGHT_NAMES)}
    return sorted(paths, key=lambda path: (order.get(os.path.basename(path), len(order)), path))


def _preferred(candidates: List[str]) -> Optional[str]:
    for path in candidates:
        if path.endswith(SUFFIX) and os.path.isfile(path):
            return path
    return None
