"""A real OpenSSH server on 127.0.0.1 and client keys, for the SSH transport tests.

The server runs as the current user (root in CI) in the foreground, with its
own host key, authorized_keys file, pid file and log in a temporary folder.
Nothing outside that folder is used except /run/sshd, the privilege
separation folder that Debian's sshd requires to exist.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import pytest

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "ssh-keygen"
PASSPHRASE = "correct horse battery"
# Seconds to wait for sshd to accept connections before the fixture fails.
STARTUP_LIMIT = 20.0
PRIVSEP_DIR = Path("/run/sshd")


def require_tools() -> None:
    if not os.path.exists(SSHD):
        pytest.fail(f"{SSHD} not found: install Debian's openssh-server (apt-get install openssh-server)")
    if shutil.which(SSH_KEYGEN) is None:
        pytest.fail("ssh-keygen not found: install Debian's openssh-client (apt-get install openssh-client)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def keygen(path: Path, key_type: str, passphrase: str = "", bits: Optional[int] = None) -> Path:
    """Write a new key pair at ``path`` and ``path.pub`` with ssh-keygen; return ``path``."""
    command = [SSH_KEYGEN, "-q", "-t", key_type, "-N", passphrase, "-C", f"ppdesk-test-{key_type}", "-f", str(path)]
    if bits is not None:
        command[4:4] = ["-b", str(bits)]
    subprocess.run(command, check=True, capture_output=True)
    return path


def ssh_keygen_fingerprint(public_key: Path) -> str:
    """Return the SHA256 fingerprint ssh-keygen prints for a public key file."""
    output = subprocess.run([SSH_KEYGEN, "-lf", str(public_key)], check=True, capture_output=True, text=True).stdout
    return output.split()[1]


@dataclass
class SshdServer:
    """One sshd process listening on 127.0.0.1:``port``."""

    folder: Path
    port: int
    host_key: Path
    authorized_keys: Path
    log_path: Path
    process: Optional[subprocess.Popen] = None
    restarts: int = 0

    @property
    def bundle_cache(self) -> Path:
        """The folder in which ppdesk keeps its agent bundle on this server (below the sessions' XDG_CACHE_HOME)."""
        return self.folder / "pod-cache" / "ppdesk" / "agent"

    def environment(self) -> Dict[str, str]:
        """Return the variables that sshd sets in every session of this server.

        XDG_CACHE_HOME points into the server's folder, so the agent bundle,
        which ppdesk keeps in the pod user's cache, never lands in the real
        ~/.cache of the user who runs the tests.
        """
        return {"XDG_CACHE_HOME": str(self.folder / "pod-cache")}

    def write_config(self) -> Path:
        config = self.folder / "sshd_config"
        # sshd uses only the first SetEnv line, so every variable goes on this one.
        variables = " ".join(f"{name}={value}" for name, value in self.environment().items())
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"AuthorizedKeysFile {self.authorized_keys}",
                    f"PidFile {self.folder / 'sshd.pid'}",
                    "StrictModes no",
                    "UsePAM no",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "MaxSessions 20",
                    "Subsystem sftp internal-sftp",
                    "LogLevel VERBOSE",
                    f"SetEnv {variables}",
                    "",
                ]
            )
        )
        return config

    def start(self) -> None:
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        config = self.write_config()
        check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True)
        if check.returncode != 0:
            pytest.fail(f"sshd rejected its test config {config}: {check.stderr.strip()}")
        self.process = subprocess.Popen(
            [SSHD, "-D", "-E", str(self.log_path), "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_listening()

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + STARTUP_LIMIT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"sshd exited with status {self.process.returncode}; log:\n{self.read_log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as conn:
                    if conn.recv(4).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"sshd did not accept connections on port {self.port} within {STARTUP_LIMIT} s; log:\n{self.read_log()}")

    def stop(self) -> None:
        if self.process is None:
            return
        for pid in self.session_pids():
            _kill(pid)
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart_with_new_host_key(self) -> None:
        """Stop, replace the host key with a fresh one of the same type, and start on the same port."""
        self.stop()
        self.host_key.unlink()
        Path(f"{self.host_key}.pub").unlink()
        keygen(self.host_key, "ed25519")
        self.restarts += 1
        self.start()

    @property
    def master_pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def session_pids(self) -> List[int]:
        """Return the pids of the per-connection sshd processes (children of the listener)."""
        if self.process is None:
            return []
        return children_of(self.process.pid)

    def host_fingerprint(self) -> str:
        return ssh_keygen_fingerprint(Path(f"{self.host_key}.pub"))

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"


def children_of(parent: int) -> List[int]:
    """Return the pids whose parent is ``parent``, read from /proc (psutil is not installed)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        # The command name in brackets may contain spaces, so split after the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == parent:
            pids.append(int(entry))
    return sorted(pids)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@dataclass
class ClientKeys:
    """Client key files; every key except ``rejected`` is in the server's authorized_keys."""

    folder: Path
    paths: Dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Path:
        return self.paths[name]


def start_server(folder: Path, keys: ClientKeys) -> SshdServer:
    folder.mkdir(parents=True, exist_ok=True)
    host_key = keygen(folder / "host_ed25519", "ed25519")
    authorized = folder / "authorized_keys"
    authorized.write_text(
        "".join(Path(f"{path}.pub").read_text() for name, path in keys.paths.items() if name != "rejected")
    )
    server = SshdServer(folder, free_port(), host_key, authorized, folder / "sshd.log")
    server.start()
    return server


@dataclass
class OptionedSshdServer(SshdServer):
    """An SshdServer whose config gets ``extra_options`` lines (RekeyLimit, SetEnv, MaxSessions...).

    An option replaces the base config's line of the same keyword, because
    sshd uses the first value it reads for most keywords. The variables of a
    ``SetEnv NAME=VALUE ...`` option join the server's own instead and win
    over them; their values must not contain spaces.
    """

    extra_options: List[str] = field(default_factory=list)

    def environment(self) -> Dict[str, str]:
        variables = super().environment()
        for option in self.extra_options:
            words = option.split()
            if words and words[0].lower() == "setenv":
                for item in words[1:]:
                    name, _, value = item.partition("=")
                    variables[name] = value
        return variables

    def write_config(self) -> Path:
        config = super().write_config()
        options = [option for option in self.extra_options if option.strip() and option.split()[0].lower() != "setenv"]
        replaced = {option.split()[0].lower() for option in options}
        kept = [line for line in config.read_text().splitlines() if not line.split() or line.split()[0].lower() not in replaced]
        config.write_text("\n".join(kept + options) + "\n")
        return config


def start_server_with_options(folder: Path, keys: ClientKeys, options: List[str]) -> SshdServer:
    """Start a server like :func:`start_server` with extra sshd_config lines, e.g. ``["RekeyLimit 32M 1s"]``."""
    folder.mkdir(parents=True, exist_ok=True)
    host_key = keygen(folder / "host_ed25519", "ed25519")
    authorized = folder / "authorized_keys"
    authorized.write_text(
        "".join(Path(f"{path}.pub").read_text() for name, path in keys.paths.items() if name != "rejected")
    )
    server = OptionedSshdServer(folder, free_port(), host_key, authorized, folder / "sshd.log", extra_options=list(options))
    server.start()
    return server

