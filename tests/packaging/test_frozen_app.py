"""The PyInstaller bundle: build it once, move it, and run it.

The bundle is built from build.spec into a temporary folder, then copied to
a path with a space and a non-ASCII letter, where a user might unpack it.
Every test runs the copied program as a subprocess with the offscreen Qt
platform and a temporary HOME, so nothing from the source tree or the
user's folders can stand in for a missing part of the bundle.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

REPO = Path(__file__).resolve().parents[2]
# The SSH tests share the remote tests' sshd helpers (plain functions).
from helpers import sshd_server

pytestmark = pytest.mark.slow

# Seconds allowed for one run of the bundled program.
RUN_LIMIT_S = 180


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the bundle once and return its copy under ``Pod Tools ü/ppdesk``."""
    if shutil.which("pyinstaller") is None:
        pytest.fail("pyinstaller not found: pip install pyinstaller")
    work = tmp_path_factory.mktemp("pyinstaller")
    started = time.monotonic()
    build = subprocess.run(
        [
            "pyinstaller", "--noconfirm", "--log-level", "WARN",
            "--distpath", str(work / "dist"), "--workpath", str(work / "build"),
            str(REPO / "build.spec"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    sys.stderr.write(f"bundle built in {time.monotonic() - started:.0f} s\n")

    target = work / "Pod Tools ü" / "ppdesk"
    shutil.copytree(work / "dist" / "ppdesk", target, symlinks=True)
    return target


@pytest.fixture
def run_bundle(bundle_dir: Path, tmp_path: Path):
    """Return a function that runs the bundled ppdesk with arguments and extra env."""
    home = tmp_path / "home"
    home.mkdir()

    def run(arguments: List[str], extra_env: Dict[str, str] | None = None) -> subprocess.CompletedProcess:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "QT_QPA_PLATFORM": "offscreen",
            **(extra_env or {}),
        }
        return subprocess.run(
            [str(bundle_dir / "ppdesk"), *arguments],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_LIMIT_S,
        )

    return run


def test_bundle_contains_qt_platforms(bundle_dir: Path):
    platforms = bundle_dir / "_internal" / "PySide6" / "Qt" / "plugins" / "platforms"
    names = {path.name for path in platforms.iterdir()}
    for plugin in ("libqoffscreen.so", "libqxcb.so", "libqminimal.so"):
        assert plugin in names


def test_bundle_contains_core_sources(bundle_dir: Path):
    core = bundle_dir / "_internal" / "ppdesk" / "core"
    assert (core / "agent.py").is_file()
    assert (core / "scan.py").is_file()


def test_bundle_version(run_bundle):
    from ppdesk import __version__

    completed = run_bundle(["--version"])
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"ppdesk {__version__}"


def test_bundle_self_test(run_bundle):
    completed = run_bundle(["--self-test"])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "self-test passed" in completed.stdout


def test_bundle_runs_local_agent(run_bundle, tmp_path: Path):
    workspace = tmp_path / "workspace ü"
    made = run_bundle(["demo-workspace", str(workspace)])
    assert made.returncode == 0, made.stderr

    completed = run_bundle(["scan", "--workspace", str(workspace), "--json"])
    assert completed.returncode == 0, completed.stderr
    names = [config["name"] for config in json.loads(completed.stdout)]
    assert "sofia_001_lr1e-4" in names


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sshd_server.SshdServer, sshd_server.ClientKeys]]:
    """An sshd on 127.0.0.1 that accepts an RSA key and a passphrase-protected ed25519 key."""
    sshd_server.require_tools()
    folder = tmp_path_factory.mktemp("bundle-keys")
    keys = sshd_server.ClientKeys(folder)
    keys.paths["rsa"] = sshd_server.keygen(folder / "id_rsa", "rsa", bits=2048)
    keys.paths["ed25519_passphrase"] = sshd_server.keygen(
        folder / "id_ed25519_passphrase", "ed25519", sshd_server.PASSPHRASE
    )
    server = sshd_server.start_server(tmp_path_factory.mktemp("bundle-sshd"), keys)
    yield server, keys
    server.stop()


@pytest.mark.ssh
@pytest.mark.parametrize("key_name", ["rsa", "ed25519_passphrase"])
def test_bundle_scans_over_ssh(run_bundle, ssh_server, tmp_path: Path, key_name: str):
    server, keys = ssh_server
    workspace = tmp_path / "pod workspace"
    made = run_bundle(["demo-workspace", str(workspace)])
    assert made.returncode == 0, made.stderr

    extra_env = {"PPDESK_KEY_PASSPHRASE": sshd_server.PASSPHRASE} if key_name == "ed25519_passphrase" else {}
    command = f"ssh root@127.0.0.1 -p {server.port} -i {keys[key_name]}"
    completed = run_bundle(
        ["scan", "--ssh", command, "--accept-new-host-key", "--remote-root", str(workspace), "--json"],
        extra_env,
    )
    assert completed.returncode == 0, completed.stderr + server.read_log()[-2000:]
    names = [config["name"] for config in json.loads(completed.stdout)]
    assert "sofia_001_lr1e-4" in names
