"""The benchmark environment: a loopback sshd, a client key, the latency proxy, timing helpers.

Everything listens on 127.0.0.1 only. The sshd is the test suite's real
OpenSSH server (tests/helpers/sshd_server.py), started in a temporary
folder below the work folder and stopped when the environment closes.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from helpers.sshd_server import ClientKeys, SshdServer, free_port, keygen, start_server  # noqa: E402

# The shared userspace latency proxy, outside the repository on purpose.
DEFAULT_PROXY = REPO.parent / "shared" / "tools" / "latency_proxy.py"
# Seconds to wait for the latency proxy to accept connections.
PROXY_STARTUP = 10.0


@dataclass
class BenchEnv:
    """One sshd on 127.0.0.1, a client key it accepts, and an OpenSSH client config for it."""

    work: Path
    server: SshdServer
    key: Path
    ssh_config: Path
    known_hosts: Path
    proxies: List[subprocess.Popen] = field(default_factory=list)

    def port_with_delay(self, delay_ms: float, proxy_script: Path) -> int:
        """Return a port that reaches the sshd with ``delay_ms`` added per direction (0: the sshd itself)."""
        if delay_ms <= 0:
            return self.server.port
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, str(proxy_script), "--listen", str(port), "--target", str(self.server.port),
             "--delay-ms", str(delay_ms)],
            cwd=str(proxy_script.parent),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.proxies.append(process)
        _wait_for_port(port, process)
        return port

    def sftp_command(self, port: int, *extra: str) -> List[str]:
        """Return the OpenSSH sftp command line for a batch run against ``port``."""
        return ["sftp", "-q", "-F", str(self.ssh_config), "-P", str(port), *extra, "-b", "-", "root@127.0.0.1"]

    def profile(self, port: int, root: str, python: Optional[str] = None):
        from ppdesk.remote.profiles import Profile

        return Profile(name="bench", host="127.0.0.1", port=port, user="root", auth="key",
                       key_file=str(self.key), root=root, python=python)

    def transport(self, port: int, root: str, python: Optional[str] = None):
        """Return an SshTransport to ``port`` that accepts the sshd's host key; ``python`` is the profile's interpreter."""
        from ppdesk.remote.hostkeys import HostKeyStore
        from ppdesk.remote.ssh import SshTransport
        from ppdesk.remote.ssh_auth import SshPrompts

        store = HostKeyStore(own_path=self.work / "ppdesk_known_hosts", user_path=self.known_hosts)
        return SshTransport(self.profile(port, root, python), prompts=SshPrompts(confirm_host_key=lambda info: True),
                            host_keys=store, connect_timeout=30.0)

    def rclone_env(self, port: int) -> Dict[str, str]:
        """Return the environment that defines rclone remote ``pod:`` (sftp backend) for ``port``."""
        env = dict(os.environ)
        env.update({
            "RCLONE_CONFIG": str(self.work / "rclone-empty.conf"),
            "RCLONE_CONFIG_POD_TYPE": "sftp",
            "RCLONE_CONFIG_POD_HOST": "127.0.0.1",
            "RCLONE_CONFIG_POD_PORT": str(port),
            "RCLONE_CONFIG_POD_USER": "root",
            "RCLONE_CONFIG_POD_KEY_FILE": str(self.key),
            "RCLONE_CONFIG_POD_KNOWN_HOSTS_FILE": str(self._known_hosts_for(port)),
        })
        return env

    def _known_hosts_for(self, port: int) -> Path:
        """Write a known_hosts file naming ``port`` explicitly; rclone's parser skips port wildcards."""
        path = self.work / f"known_hosts_{port}"
        key_type, key = Path(f"{self.server.host_key}.pub").read_text().split()[:2]
        path.write_text(f"[127.0.0.1]:{port} {key_type} {key}\n127.0.0.1 {key_type} {key}\n")
        return path

    def close(self) -> None:
        for process in self.proxies:
            process.terminate()
            process.wait(10)
        self.proxies.clear()
        self.server.stop()


def open_env(work: Path) -> BenchEnv:
    """Start an sshd in ``work`` and write a client key, known_hosts and ssh_config for it."""
    work.mkdir(parents=True, exist_ok=True)
    keys = ClientKeys(work / "keys")
    keys.folder.mkdir(exist_ok=True)
    key_path = keys.folder / "id_ed25519"
    for stale in (key_path, Path(f"{key_path}.pub")):
        if stale.exists():
            stale.unlink()
    keys.paths["bench"] = keygen(key_path, "ed25519")
    server_folder = work / "sshd"
    if server_folder.exists():
        shutil.rmtree(server_folder)
    server = start_server(server_folder, keys)

    known_hosts = work / "known_hosts"
    host_key = Path(f"{server.host_key}.pub").read_text().split()
    # A wildcard host pattern, so the entry matches the sshd and every proxy port on loopback.
    known_hosts.write_text(f"127.0.0.1 {host_key[0]} {host_key[1]}\n[127.0.0.1]:* {host_key[0]} {host_key[1]}\n")
    # The sshd has a new host key on every start, so ppdesk's stored key must go too.
    stale_store = work / "ppdesk_known_hosts"
    if stale_store.exists():
        stale_store.unlink()
    (work / "rclone-empty.conf").write_text("")
    ssh_config = work / "ssh_config"
    ssh_config.write_text(
        "Host *\n"
        f"  IdentityFile {key_path}\n"
        "  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {known_hosts}\n"
        "  StrictHostKeyChecking yes\n"
        "  BatchMode yes\n"
    )
    return BenchEnv(work=work, server=server, key=key_path, ssh_config=ssh_config, known_hosts=known_hosts)


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + PROXY_STARTUP
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the latency proxy exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the latency proxy did not listen on port {port} within {PROXY_STARTUP} s")


def machine() -> Dict[str, str]:
    """Describe this machine for the record: cores, Python, paramiko, OpenSSH, load."""
    import paramiko

    ssh_version = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()
    return {
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "paramiko": paramiko.__version__,
        "openssh": ssh_version,
        "load": " ".join(f"{value:.2f}" for value in os.getloadavg()),
    }


def timed(action: Callable[[], None]) -> float:
    """Run ``action`` and return its wall time in seconds."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def alternate(runs: Dict[str, Callable[[], None]], repeats: int, prepare: Optional[Callable[[str], None]] = None) -> Dict[str, List[float]]:
    """Run each named action ``repeats`` times, alternating between them; return the wall times.

    ``prepare`` runs before each timed action (with its name) and is not timed.
    """
    times: Dict[str, List[float]] = {name: [] for name in runs}
    for repeat in range(repeats):
        order = list(runs) if repeat % 2 == 0 else list(reversed(runs))
        for name in order:
            if prepare is not None:
                prepare(name)
            seconds = timed(runs[name])
            times[name].append(seconds)
            print(f"  {name}: {seconds:.3f} s", flush=True)
    return times


def median(values: List[float]) -> float:
    return statistics.median(values)
