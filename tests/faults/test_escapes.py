"""Remote names and symlinks that try to leave the output folder or the local destination."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from faults.conftest import tree_listing

from ppdesk.cancel import CancelToken
from ppdesk.remote.local import LocalTransport
from ppdesk.tools.base import Status, ToolContext
from ppdesk.tools.download_config import DownloadConfig
from ppdesk.tools.download_output import DownloadOutput
from ppdesk.tools.workspace import scan_workspace
from ppdesk.transfer.engine import download
from ppdesk.transfer.plan import PlannedFile
from ppdesk.transfer.report import FileStatus

SECRET = b"pod secret outside the output folder\n"
ESCAPING_NAMES = [
    "../escaped.txt",
    "../../escaped.txt",
    "ok/../../escaped.txt",
    "/tmp/escaped-absolute.txt",
    "C:escaped.txt",
    "sub\\..\\..\\escaped.txt",
    "nul\x00byte.txt",
    "",
    ".",
    "trailing/",
]


def test_plan_names_cannot_escape(tmp_path):
    source = tmp_path / "pod" / "file.bin"
    source.parent.mkdir()
    source.write_bytes(b"payload")
    stat = source.stat()
    outer = tmp_path / "outer"
    dest = outer / "dest"
    dest.mkdir(parents=True)
    files = [PlannedFile(str(source), name, stat.st_size, stat.st_mtime) for name in ESCAPING_NAMES]
    files.append(PlannedFile(str(source), "inside/file.bin", stat.st_size, stat.st_mtime))

    report = download(LocalTransport.for_root(tmp_path / "pod"), files, dest, jobs=2)

    statuses = {outcome.rel: outcome.status for outcome in report.outcomes}
    for name in ESCAPING_NAMES:
        assert statuses[name] == FileStatus.FAILED, name
    assert statuses["inside/file.bin"] == FileStatus.DOWNLOADED
    assert tree_listing(outer) == ["dest", "dest/inside", "dest/inside/file.bin"]
    assert not Path("/tmp/escaped-absolute.txt").exists()


def _workspace_with_links(tmp_path: Path) -> Path:
    from ppdesk.demo import build_demo_workspace

    root = build_demo_workspace(tmp_path / "ws")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "folder").mkdir()
    (outside / "folder" / "secret-in-folder.txt").write_bytes(SECRET)
    for folder in {path.parent for path in (root / "SimpleTuner" / "config").rglob("config.*")}:
        if not (folder / "link-to-secret.txt").exists():
            (folder / "link-to-secret.txt").symlink_to(outside / "secret.txt")
            (folder / "link-absolute").symlink_to("/etc/hostname")
    for output in (root / "SimpleTuner" / "output").iterdir():
        (output / "link-to-secret.txt").symlink_to(outside / "secret.txt")
        (output / "link-to-folder").symlink_to(outside / "folder")
        (output / "link-up").symlink_to("../..")
        (output / "logs-link").symlink_to(".")  # a loop inside the output folder
    return root


def _no_secret_below(folder: Path) -> None:
    for current, _folders, files in os.walk(folder):
        for name in files:
            assert Path(current, name).read_bytes() != SECRET, os.path.join(current, name)


@pytest.mark.ssh
def test_symlinks_outside_not_downloaded(make_transport, tmp_path):
    root = _workspace_with_links(tmp_path)
    transport = make_transport(root)
    scan = scan_workspace(transport, CancelToken())
    configs = [config for config in scan.configs if config.output_exists]
    assert configs
    dest = tmp_path / "dest"
    ctx = ToolContext(transport=transport, dest=dest)
    for config in configs:
        for tool in (DownloadConfig(), DownloadOutput()):
            result = tool.run(ctx, config)
            assert result.status in (Status.OK, Status.WARNING), result.message
            reasons = " ".join(item["reason"] for item in result.details["pod_skipped"])
            assert "outside" in reasons
        assert not (dest / config.name / "config" / "link-to-secret.txt").exists()
        assert not (dest / config.name / "config" / "link-absolute").exists()
        assert not (dest / config.name / "output" / "link-to-folder").exists()
    _no_secret_below(dest)
    assert sorted(os.listdir(tmp_path)) == sorted(["dest", "known", "outside", "ws"])
