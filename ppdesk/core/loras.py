"""LoRA mover: copy a config's checkpoint weights into ComfyUI's loras folder.

Each complete checkpoint's weight file lands as
``<loras>/<model_family or "other">/<family>/<last>/<last>-<step:05>.safetensors``
and the final weights as ``<last>-final.safetensors``, where ``<last>`` is the
last segment of the config name. Nothing on the pod is overwritten or deleted:
a destination with the same bytes is skipped, one with other bytes is left
alone and reported as a conflict.
"""

from __future__ import annotations

import errno
import logging
import os
from typing import Any, Dict, List, Optional, Tuple

from .checkpoints import WEIGHT_NAMES
from .files import sha256_file
from .layout import WorkspaceLayout
from .protocol import AgentFailure, Emitter
from .scan import load_config

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
SUFFIX = ".safetensors"
OTHER_FAMILY = "other"


def op_move_loras(layout: WorkspaceLayout, args: Dict[str, Any], emit: Emitter) -> Dict[str, Any]:
    """Copy one config's checkpoint and final weights into the loras folder.

    args: ``{"config": name}``. Returns ``{"copied", "skipped", "conflicts",
    "errors", "loras_dir", "folder"}`` as described in the agent contract.
    Raises AgentFailure ``invalid_request`` for a missing name, ``not_found``
    for an unknown config and ``no_output`` when the output folder is missing.
    """
    name = args.get("config")
    if not isinstance(name, str) or not name:
        raise AgentFailure("invalid_request", "move_loras needs a 'config' name")
    config = load_config(layout, name)
    output = config.get("output")
    if not output or not config.get("output_exists"):
        raise AgentFailure("no_output", f"config {name!r} has no output folder ({output or 'not set'})")

    folder, last = destination_folder(layout, config, emit)
    items = _plan(config, output, last)
    result: Dict[str, Any] = {
        "copied": [], "skipped": [], "conflicts": [], "errors": [],
        "loras_dir": layout.loras_dir, "folder": folder,
    }

    for index, (source, dest_name) in enumerate(items, start=1):
        if source is None:
            result["errors"].append({"source": dest_name, "message": "no .safetensors weight file found"})
            emit.progress(index, len(items), f"no weights for {dest_name}")
            continue
        dest = os.path.join(folder, dest_name)
        try:
            os.makedirs(folder, exist_ok=True)
            outcome = place_file(source, dest)
        except OSError as exc:
            log.warning("copying %s to %s failed: %s", source, dest, exc)
            result["errors"].append({"source": source, "message": f"copy to {dest} failed: {exc}"})
            emit.progress(index, len(items), f"failed {dest_name}")
            continue
        if outcome == "conflict":
            result["conflicts"].append(
                {"source": source, "dest": dest, "reason": "a different file already has this name; left unchanged"}
            )
        else:
            result[outcome].append(dest)
        emit.progress(index, len(items), f"{outcome} {dest_name}")
    return result


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


def place_file(source: str, dest: str) -> str:
    """Copy ``source`` to ``dest`` without ever replacing an existing ``dest``.

    Returns ``"copied"``, ``"skipped"`` (``dest`` already has the same size
    and SHA-256) or ``"conflict"`` (``dest`` has other bytes and was left
    alone). The bytes go to a hidden temporary file in the destination
    folder, are fsynced, and appear under ``dest`` through a hard link, which
    fails instead of replacing. Raises OSError on read or write failures.
    """
    if os.path.lexists(dest):
        return _compare(source, dest)

    folder, base = os.path.split(dest)
    temporary = os.path.join(folder, f".{base}.{os.getpid()}.ppdesk-tmp")
    try:
        _copy_synced(source, temporary)
        try:
            os.link(temporary, dest)
        except FileExistsError:
            return _compare(source, dest)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                raise
            # NOTE: this file system has no hard links, so a file created at
            # ``dest`` between the check and the rename would be replaced.
            if os.path.lexists(dest):
                return _compare(source, dest)
            os.rename(temporary, dest)
        _fsync_folder(folder)
        return "copied"
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)


def _copy_synced(source: str, target: str) -> None:
    with open(source, "rb") as reader, open(target, "wb") as writer:
        while True:
            chunk = reader.read(CHUNK)
            if not chunk:
                break
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())


def _fsync_folder(folder: str) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # Folders cannot be opened on Windows, so there is nothing to sync.
    try:
        os.fsync(descriptor)
    except OSError as exc:
        log.debug("fsync of folder %s failed: %s", folder, exc)
    finally:
        os.close(descriptor)


def _compare(source: str, dest: str) -> str:
    if os.path.isfile(dest) and os.path.getsize(dest) == os.path.getsize(source):
        if sha256_file(dest) == sha256_file(source):
            return "skipped"
    return "conflict"
