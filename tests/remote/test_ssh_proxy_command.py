"""Profiles with a ProxyCommand, against the real sshd on 127.0.0.1.

Each profile names a 127.0.0.1 port where nothing listens, and the
ProxyCommand relays to the sshd's real port. A login that succeeds
therefore went through the ProxyCommand, because a direct connection
would have been refused.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from ppdesk.remote.errors import ConnectionFailed
from ppdesk.remote.hostkeys import HostKeyStore
from ppdesk.remote.local import LocalTransport
from ppdesk.remote.profiles import Profile
from ppdesk.remote.ssh import SshTransport
from ppdesk.remote.ssh_auth import SshPrompts
from ppdesk.remote.sshcommand import import_ssh_config

from helpers.sshd_server import free_port

# Copies bytes between stdin/stdout and a TCP connection to argv[1]:argv[2],
# as a ProxyCommand must; it ends when either side closes.
RELAY = """
import socket, sys, threading

conn = socket.create_connection((sys.argv[1], int(sys.argv[2])))

def upstream():
    while True:
        data = sys.stdin.buffer.read1(65536)
        if not data:
            break
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)

threading.Thread(target=upstream, daemon=True).start()
while True:
    data = conn.recv(65536)
    if not data:
        break
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
"""


def write_relay(folder: Path) -> Path:
    script = folder / "relay.py"
    script.write_text(RELAY)
    return script


def python_relay(tmp_path: Path, sshd, client_keys) -> str:
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(write_relay(tmp_path)))} 127.0.0.1 {sshd.port}"


def ssh_w_relay(tmp_path: Path, sshd, client_keys) -> str:
    """An OpenSSH client that reaches the sshd through itself with -W, as a bastion host would be used."""
    known_hosts = tmp_path / "relay_known_hosts"
    host_key = Path(f"{sshd.host_key}.pub").read_text().split()
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {host_key[0]} {host_key[1]}\n")
    options = [
        "-F", "/dev/null",
        "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={known_hosts}",
        "-i", str(client_keys["ed25519"]),
        "-p", str(sshd.port),
        "-W", f"127.0.0.1:{sshd.port}",
    ]
    return " ".join(shlex.quote(part) for part in ["ssh", *options, "root@127.0.0.1"])


@pytest.mark.ssh
@pytest.mark.parametrize("relay", [python_relay, ssh_w_relay], ids=["python-relay", "ssh-W"])
def test_proxy_command_scan(make_ssh, sshd, client_keys, demo_workspace, tmp_path, relay):
    transport = make_ssh(root=demo_workspace, port=free_port(), proxy_command=relay(tmp_path, sshd, client_keys))

    remote = transport.run_agent("scan")

    assert remote == LocalTransport.for_root(demo_workspace).run_agent("scan")
    assert transport.stat(str(demo_workspace / "SimpleTuner" / "config")).size > 0


@pytest.mark.ssh
def test_proxy_command_reconnects(make_ssh, sshd, client_keys, demo_workspace, tmp_path):
    transport = make_ssh(root=demo_workspace, port=free_port(), proxy_command=python_relay(tmp_path, sshd, client_keys))
    first = transport.run_agent("probe")

    transport.reconnect(force=True)
    second = transport.run_agent("probe")

    assert second["executable"] == first["executable"]
    # A new connection starts a new agent process.
    assert second["pid"] != first["pid"]


@pytest.mark.ssh
def test_imported_proxy_command_connects(make_ssh, sshd, client_keys, demo_workspace, tmp_path):
    config = tmp_path / "ssh_config"
    relay = write_relay(tmp_path)
    # %h becomes the HostName when the config is read, as OpenSSH expands it.
    config.write_text(
        "Host pod-behind-relay\n"
        "    HostName 127.0.0.1\n"
        f"    Port {free_port()}\n"
        "    User root\n"
        f"    IdentityFile {client_keys['ed25519']}\n"
        f"    ProxyCommand {sys.executable} {relay} %h {sshd.port}\n"
    )
    [profile] = import_ssh_config(str(config))
    assert profile.proxy_command == f"{sys.executable} {relay} 127.0.0.1 {sshd.port}"

    fields = {name: value for name, value in profile.to_dict().items() if name not in ("name", "root")}
    transport = make_ssh(root=demo_workspace, **fields)

    assert transport.run_agent("probe")["python"].startswith("3.")


@pytest.mark.ssh
def test_proxy_command_missing_program(make_ssh, tmp_path):
    missing = tmp_path / "no-such-proxy"
    transport = make_ssh(port=free_port(), proxy_command=f"{missing} 127.0.0.1 22")
    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()
    assert str(caught.value).startswith(f"cannot start ProxyCommand '{missing} 127.0.0.1 22': ")


def test_proxy_command_exit_named(tmp_path):
    command = f"{sys.executable} -c 'import sys; sys.stderr.write(\"no route to bastion\\n\"); sys.exit(3)'"
    profile = Profile(name="test", host="127.0.0.1", port=free_port(), auth="agent", proxy_command=command)
    host_keys = HostKeyStore(own_path=tmp_path / "known_hosts", user_path=tmp_path / "user_known_hosts")
    # A timeout far longer than the test, so a message that names the exit
    # status shows the login ended when the command did, not at the timeout.
    transport = SshTransport(profile, prompts=SshPrompts(), host_keys=host_keys, connect_timeout=600.0)

    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()

    assert str(caught.value) == (
        f"ProxyCommand {command!r} exited with status 3 before the SSH login finished: no route to bastion; "
        f"check that the command runs in a terminal and reaches the SSH server"
    )


def test_proxy_command_silent_exit(tmp_path):
    command = f"{sys.executable} -c 'pass'"
    profile = Profile(name="test", host="127.0.0.1", port=free_port(), auth="agent", proxy_command=command)
    host_keys = HostKeyStore(own_path=tmp_path / "known_hosts", user_path=tmp_path / "user_known_hosts")
    transport = SshTransport(profile, prompts=SshPrompts(), host_keys=host_keys, connect_timeout=600.0)

    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()

    assert str(caught.value).startswith(
        f"ProxyCommand {command!r} exited with status 0 before the SSH login finished and wrote nothing to stderr; "
    )


def test_proxy_command_unbalanced_quotes(make_ssh):
    transport = make_ssh(port=free_port(), proxy_command="ssh -W '%h:%p bastion")
    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()
    assert str(caught.value) == (
        "cannot start ProxyCommand \"ssh -W '%h:%p bastion\": No closing quotation; check its quotes"
    )


@pytest.mark.ssh
def test_chatty_proxy_command(make_ssh, sshd, client_keys, demo_workspace, tmp_path):
    """A command that writes much more to stderr than a pipe buffers (64 KiB on Linux) still relays."""
    chatty = tmp_path / "chatty_relay.py"
    chatty.write_text("import sys\nsys.stderr.write('debug1: relay detail\\n' * 65536)\nsys.stderr.flush()\n" + RELAY)
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(chatty))} 127.0.0.1 {sshd.port}"
    transport = make_ssh(root=demo_workspace, port=free_port(), proxy_command=command)

    remote = transport.run_agent("scan")

    assert remote == LocalTransport.for_root(demo_workspace).run_agent("scan")
