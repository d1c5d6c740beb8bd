"""Pod-side download planning and file hashing.

``plan_download`` lists the files the client should fetch for one config,
with size, mtime and, for weight files, a sha256 computed here next to the
data so the client can verify what arrived. ``hash_files`` hashes named files.

Names come from ``os.scandir`` on ``str`` paths, so bytes that are not valid
UTF-8 arrive as lone surrogates (``surrogateescape``). The emitter's
``json.dumps(ensure_ascii=True)`` escapes them, and the client's JSON decoder
turns them back into the same surrogates.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from typing import Any, Callable, Collection, Dict, List, Optional, Set, Tuple

from .checkpoints import WEIGHT_NAMES, list_checkpoints, newest_complete
from .layout import WorkspaceLayout
from .protocol import AgentFailure, Emitter
from .scan import load_config

HASH_CHUNK = 1024 * 1024
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
# Files of a config folder up to this size, in bytes, get a sha256 in the plan.
CONFIG_HASH_LIMIT = 64 * 1024 * 1024
# Minimum seconds between two hashing progress lines.
PROGRESS_INTERVAL = 0.5

FileEntry = Dict[str, Any]
SkipEntry = Dict[str, str]
# Decides whether a folder (rel posix path, name) is left out of a walk.
FolderFilter = Callable[[str, str], bool]


def is_weight_file(name: str) -> bool:
    return name.lower().endswith(WEIGHT_SUFFIXES)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _join_rel(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


class _Walker:
    """Lists regular files below one root without ever leaving it.

    Symlinks are resolved: one whose target lies outside the root's real
    path, a dangling one, and one leading back to a folder that contains it
    (a loop) are recorded in ``skipped`` with a reason instead of being
    followed. A link to another folder inside the root is followed, so
    its files are listed under both names.
    """

    def __init__(self, root: str, skip_folder: Optional[FolderFilter] = None) -> None:
        self.root = root
        self.real_root = os.path.realpath(root)
        self.skip_folder = skip_folder
        self.files: List[FileEntry] = []
        self.skipped: List[SkipEntry] = []
        self._ancestors: Set[str] = set()

    def walk(self) -> None:
        self._walk_folder(self.root, "")

    def _skip(self, rel: str, reason: str) -> None:
        self.skipped.append({"rel": rel, "reason": reason})

    def _walk_folder(self, folder: str, rel_folder: str) -> None:
        real = os.path.realpath(folder)
        if real in self._ancestors:
            self._skip(rel_folder or ".", f"symlink loop: {real} contains this link")
            return
        try:
            with os.scandir(folder) as iterator:
                entries = sorted(iterator, key=lambda entry: entry.name)
        except OSError as exc:
            self._skip(rel_folder or ".", f"cannot list folder: {exc.strerror or exc}")
            return
        self._ancestors.add(real)
        try:
            for entry in entries:
                self._visit(entry.path, _join_rel(rel_folder, entry.name), entry.name)
        finally:
            self._ancestors.discard(real)

    def _visit(self, path: str, rel: str, name: str) -> None:
        if os.path.islink(path):
            target = os.path.realpath(path)
            if not _inside(target, self.real_root):
                self._skip(rel, f"symlink to {target}, which is outside {self.root}")
                return
        try:
            st = os.stat(path)
        except OSError as exc:
            self._skip(rel, f"cannot read: {exc.strerror or exc} (a dangling symlink?)")
            return

        if stat.S_ISDIR(st.st_mode):
            if self.skip_folder is not None and self.skip_folder(rel, name):
                return
            self._walk_folder(path, rel)
        elif stat.S_ISREG(st.st_mode):
            self.files.append(
                {"path": path, "rel": rel, "size": st.st_size, "mtime": st.st_mtime, "sha256": None}
            )
        else:
            self._skip(rel, "not a regular file")


def plan_tree(root: str) -> Tuple[List[FileEntry], List[SkipEntry]]:
    """List every regular file below ``root`` (sha256 not yet filled).

    Returns ``(files, skipped)`` sorted by walk order; ``rel`` paths use ``/``.
    """
    walker = _Walker(root)
    walker.walk()
    return walker.files, walker.skipped


def plan_output_files(
    output_dir: str, newest_checkpoint_dir: Optional[str], weight_names: Collection[str]
) -> Tuple[List[FileEntry], List[SkipEntry]]:
    """List the files of an output folder to download.

    Every file outside the top-level ``checkpoint-*`` folders (including the
    ``-tmp`` ones of a save in progress) is listed, plus the files named in
    ``weight_names`` inside ``newest_checkpoint_dir`` (a folder directly
    below ``output_dir``, or None when there is no complete checkpoint).
    Other checkpoint folders and the newest one's training state are
    reported in ``skipped``.
    """
    newest_name = os.path.basename(os.path.normpath(newest_checkpoint_dir)) if newest_checkpoint_dir else None
    checkpoint_folders: List[str] = []

    def skip_checkpoints(rel: str, name: str) -> bool:
        if "/" in rel or not name.startswith("checkpoint-"):
            return False
        checkpoint_folders.append(name)
        return True

    walker = _Walker(output_dir, skip_checkpoints)
    walker.walk()
    files, skipped = walker.files, walker.skipped

    for name in checkpoint_folders:
        if name != newest_name:
            skipped.append({"rel": name, "reason": "not the newest complete checkpoint"})

    if newest_name is not None and newest_name in checkpoint_folders:
        checkpoint_files, checkpoint_skipped = plan_tree(os.path.join(output_dir, newest_name))
        skipped.extend({"rel": _join_rel(newest_name, s["rel"]), "reason": s["reason"]} for s in checkpoint_skipped)
        for entry in checkpoint_files:
            entry["rel"] = _join_rel(newest_name, entry["rel"])
            if os.path.basename(entry["path"]) in weight_names:
                files.append(entry)
            else:
                skipped.append({"rel": entry["rel"], "reason": "training state, not weights"})
    return files, skipped


class _HashProgress:
    """Emits throttled progress lines while hashing, counted in bytes."""

    def __init__(self, emit: Optional[Emitter], total: int) -> None:
        self.emit = emit
        self.total = total
        self.done = 0
        self._last = 0.0

    def add(self, count: int, name: str) -> None:
        self.done += count
        now = time.monotonic()
        if self.emit is not None and (now - self._last >= PROGRESS_INTERVAL or self.done >= self.total):
            self._last = now
            self.emit.progress(self.done, self.total, f"hashing {name}", unit="bytes", phase="hashing")


def sha256_file(path: str, on_chunk: Optional[Callable[[int], None]] = None) -> str:
    """Return the sha256 hex digest of a file read in HASH_CHUNK pieces; OSError propagates."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(HASH_CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
    return digest.hexdigest()


def hash_weight_files(
    files: List[FileEntry],
    skipped: List[SkipEntry],
    emit: Optional[Emitter] = None,
    select: Optional[Callable[[FileEntry], bool]] = None,
) -> List[FileEntry]:
    """Fill ``sha256`` of weight files, or of the files ``select`` accepts; return the files that could be read.

    A selected file that cannot be read moves to ``skipped`` with the reason.
    """
    if select is None:
        select = lambda entry: is_weight_file(entry["rel"])  # noqa: E731
    weights = [entry for entry in files if select(entry)]
    progress = _HashProgress(emit, sum(entry["size"] for entry in weights))
    unreadable = set()
    for entry in weights:
        name = entry["rel"]
        try:
            entry["sha256"] = sha256_file(entry["path"], lambda count: progress.add(count, name))
        except OSError as exc:
            skipped.append({"rel": name, "reason": f"cannot hash: {exc.strerror or exc}"})
            unreadable.add(name)
    return [entry for entry in files if entry["rel"] not in unreadable]


def _require_str(args: Dict[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value:
        raise AgentFailure("invalid_request", f"argument {key!r} must be a non-empty string, got {value!r}")
    return value


def _newest_checkpoint_dir(output: str) -> Optional[str]:
    try:
        newest = newest_complete(list_checkpoints(output))
    except OSError as exc:
        raise AgentFailure("unreadable", f"cannot list the checkpoints in {output}: {exc}") from exc
    return newest.path if newest is not None else None


def op_plan_download(layout: WorkspaceLayout, args: Dict[str, Any], emit: Emitter) -> Dict[str, Any]:
    """Plan the download of one config's output or config folder.

    args: ``{"config": name, "kind": "output" | "config"}``. Returns
    ``{"root", "files": [{"path", "rel", "size", "mtime", "sha256"}], "skipped": [{"rel", "reason"}]}``.
    Raises AgentFailure("invalid_request") for bad arguments,
    AgentFailure("not_found") when the config or folder does not exist, and
    AgentFailure("unreadable") when the checkpoints cannot be listed.
    """
    name = _require_str(args, "config")
    kind = _require_str(args, "kind")
    if kind not in ("output", "config"):
        raise AgentFailure("invalid_request", f"argument 'kind' must be 'output' or 'config', got {kind!r}")
    config = load_config(layout, name)

    if kind == "config":
        root = config["path"]
    else:
        root = config.get("output")
        if not root:
            raise AgentFailure("not_found", f"config {name!r} has no output folder setting")
    if not os.path.isdir(root):
        raise AgentFailure("not_found", f"{kind} folder of config {name!r} not found: {root}")

    if kind == "config":
        files, skipped = plan_tree(root)
        # Grids in the config folder are rebuilt on every run with a new mtime.
        # A hash lets the client skip a rebuilt file with the same bytes
        # instead of reporting it as a conflict with its older local copy.
        files = hash_weight_files(files, skipped, emit, lambda entry: entry["size"] <= CONFIG_HASH_LIMIT)
    else:
        files, skipped = plan_output_files(root, _newest_checkpoint_dir(root), WEIGHT_NAMES)
        files = hash_weight_files(files, skipped, emit)
    return {"root": root, "files": files, "skipped": skipped}


def op_hash_files(layout: WorkspaceLayout, args: Dict[str, Any], emit: Emitter) -> Dict[str, str]:
    """Return ``{path: sha256 hex}`` for args ``{"paths": [...]}``.

    Raises AgentFailure("invalid_request") for bad arguments and
    AgentFailure("not_found") naming the first file that cannot be read.
    """
    paths = args.get("paths")
    if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
        raise AgentFailure("invalid_request", f"argument 'paths' must be a list of non-empty strings, got {paths!r}")

    sizes = {}
    for path in paths:
        try:
            sizes[path] = os.path.getsize(path)
        except OSError as exc:
            raise AgentFailure("not_found", f"cannot hash {path}: {exc.strerror or exc}") from exc

    progress = _HashProgress(emit, sum(sizes.values()))
    hashes = {}
    for path in paths:
        try:
            hashes[path] = sha256_file(path, lambda count: progress.add(count, os.path.basename(path)))
        except OSError as exc:
            raise AgentFailure("not_found", f"cannot hash {path}: {exc.strerror or exc}") from exc
    return hashes
