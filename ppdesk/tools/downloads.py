"""The shared body of the two download tools: plan on the pod, then fetch."""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Optional

from ppdesk.remote.errors import AgentError
from ppdesk.tools.base import Status, Tool, ToolContext, ToolResult
from ppdesk.tools.common import (
    AgentRequest,
    announce,
    download_files,
    local_folder,
    name_items,
    plural,
    run_request,
    transfer_details,
    transfer_status,
)
from ppdesk.tools.workspace import ConfigEntry
from ppdesk.transfer.plan import PlannedFile, planned_files, safe_join
from ppdesk.transfer.report import TransferReport
from ppdesk.units import format_bytes

log = logging.getLogger(__name__)

# Skip reasons of plan_download that are intended: an output download leaves
# older checkpoints and optimizer state on the pod. Any other reason, such as
# an unreadable file, makes the tool end with a warning.
EXPECTED_SKIP_REASONS = frozenset({"not the newest complete checkpoint", "training state, not weights"})


class PlannedDownload(Tool):
    """Ask the agent's ``plan_download`` for a file list of ``kind`` and download it.

    Files land in ``<dest>/<config name>/<kind>/``. Status: ``failed`` when
    a file failed, ``warning`` for conflicts or files the pod skipped,
    else ``ok``.
    """

    kind: ClassVar[str]

    def build_request(self, ctx: ToolContext, config: ConfigEntry) -> AgentRequest:
        return AgentRequest("plan_download", {"config": config.name, "kind": self.kind})

    def skip_reason(self, config: ConfigEntry) -> Optional[str]:
        """Return why this config has nothing to download, or None."""
        return None

    def execute(self, ctx: ToolContext, config: ConfigEntry) -> ToolResult:
        reason = self.skip_reason(config)
        if reason is not None:
            return ToolResult(self.key, config.name, Status.SKIPPED, reason)

        announce(ctx, self.key, config, f"listing the {self.kind} files")
        plan = run_request(ctx, self.key, config, self.build_request(ctx, config))
        files = planned_files(plan.get("files") or [])
        dest_root = local_folder(ctx, config, self.kind)
        files = self.hash_local_matches(ctx, config, files, dest_root)
        report = download_files(ctx, self.key, config, files, dest_root)
        return self.read_result(ctx, config, plan, report)

    def hash_local_matches(
        self, ctx: ToolContext, config: ConfigEntry, files: List[PlannedFile], dest_root: Path
    ) -> List[PlannedFile]:
        """Fill in the pod's SHA-256 for planned files whose local copy has the same size.

        Size and mtime alone would take a different local file of equal size
        for identical and skip it. One ``hash_files`` request covers every
        such file, so a first download costs no extra round trip.
        """
        candidates = [planned for planned in files if planned.sha256 is None and _same_size_locally(dest_root, planned)]
        if not candidates:
            return files
        request = AgentRequest("hash_files", {"paths": [planned.remote_path for planned in candidates]})
        try:
            hashes = run_request(ctx, self.key, config, request)
        except AgentError as exc:
            # The engine still compares size and mtime, and stats each file again.
            log.warning("%s on %s: cannot hash %d existing files on the pod: %s", self.key, config.name, len(candidates), exc)
            return files
        return [
            replace(planned, sha256=hashes[planned.remote_path]) if hashes.get(planned.remote_path) else planned
            for planned in files
        ]

    def read_result(
        self, ctx: ToolContext, config: ConfigEntry, plan: Dict[str, Any], report: TransferReport
    ) -> ToolResult:
        dest_root = local_folder(ctx, config, self.kind)
        all_skipped: List[Dict[str, Any]] = list(plan.get("skipped") or [])
        pod_skipped = [item for item in all_skipped if item.get("reason") not in EXPECTED_SKIP_REASONS]
        left_out = len(all_skipped) - len(pod_skipped)
        local = [str(dest_root.joinpath(*outcome.rel.split("/"))) for outcome in report.downloaded + report.skipped]

        message = (
            f"{plural(len(report.downloaded), 'file')} downloaded, {len(report.skipped)} already present "
            f"({format_bytes(report.bytes_fetched)} fetched) to {dest_root}"
        )
        if left_out:
            message += f"; {left_out} older checkpoint or training state entries left on the pod"
        if report.conflicts:
            kept = name_items([outcome.rel for outcome in report.conflicts])
            message += f"; {plural(len(report.conflicts), 'different local file')} kept: {kept}"
        if report.failed:
            failed = name_items([f"{outcome.rel} ({outcome.message})" for outcome in report.failed])
            message += f"; {plural(len(report.failed), 'file')} failed: {failed}"
        if pod_skipped:
            skipped = name_items([f"{item.get('rel')} ({item.get('reason')})" for item in pod_skipped])
            message += f"; {len(pod_skipped)} skipped on the pod: {skipped}"

        status = transfer_status(report)
        if status is Status.OK and pod_skipped:
            status = Status.WARNING
        details = transfer_details(report)
        details.update({"root": plan.get("root"), "pod_skipped": all_skipped, "dest": str(dest_root)})
        return ToolResult(self.key, config.name, status, message, local_files=local, details=details)


def _same_size_locally(dest_root: Path, planned: PlannedFile) -> bool:
    try:
        local = safe_join(dest_root, planned.rel_path)
        info = os.lstat(local)
    except (ValueError, OSError):
        # A rejected name or a missing file is the engine's to report.
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size == planned.size
