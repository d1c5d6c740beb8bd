"""``ppdesk pp`` over SSH leaves the same files as the same run on a local workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ppdesk.cli import main
from ppdesk.demo import build_demo_workspace


@pytest.fixture
def user_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PPDESK_KEY_PASSPHRASE", raising=False)
    return tmp_path


def tree_bytes(root: Path, workspace: Path) -> dict[str, bytes]:
    """Map each file below ``root`` to its bytes, with the workspace path made neutral.

    Grid sidecars record the absolute source path of each sample, which
    differs between the two workspaces and nothing else.
    """
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".json":
                data = data.replace(json.dumps(str(workspace))[1:-1].encode(), b"<workspace>")
            files[path.relative_to(root).as_posix()] = data
    return files


@pytest.mark.ssh
def test_pp_over_ssh_matches_local_run(user_dirs, sshd, client_keys, tmp_path, capsys):
    local_workspace = build_demo_workspace(tmp_path / "local" / "workspace")
    pod_workspace = build_demo_workspace(tmp_path / "pod" / "workspace")
    local_dest = tmp_path / "local" / "dest"
    pod_dest = tmp_path / "pod" / "dest"

    local_status = main(["pp", "--workspace", str(local_workspace), "--family", "sofia",
                         "--dest", str(local_dest), "--json"])
    local_results = json.loads(capsys.readouterr().out)
    command = f"ssh root@127.0.0.1 -p {sshd.port} -i {client_keys['ed25519']}"
    pod_status = main(["pp", "--ssh", command, "--remote-root", str(pod_workspace), "--accept-new-host-key",
                       "--family", "sofia", "--dest", str(pod_dest), "--json"])
    pod_results = json.loads(capsys.readouterr().out)

    assert local_status == 0
    assert pod_status == 0
    assert [(r["tool"], r["config"], r["status"]) for r in pod_results] == [
        (r["tool"], r["config"], r["status"]) for r in local_results
    ]
    assert len(pod_results) == 15
    assert {r["status"] for r in pod_results} == {"ok"}

    local_files = tree_bytes(local_dest, local_workspace)
    pod_files = tree_bytes(pod_dest, pod_workspace)
    assert len(local_files) > 40
    assert sorted(pod_files) == sorted(local_files)
    different = [name for name in local_files if local_files[name] != pod_files[name]]
    assert different == []

    local_loras = tree_bytes(local_workspace / "ComfyUI" / "models" / "loras", local_workspace)
    pod_loras = tree_bytes(pod_workspace / "ComfyUI" / "models" / "loras", pod_workspace)
    assert sorted(pod_loras) == sorted(local_loras)
    assert len(pod_loras) > 0
    assert all(local_loras[name] == pod_loras[name] for name in local_loras)
