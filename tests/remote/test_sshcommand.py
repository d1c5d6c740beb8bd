"""Parsing provider ssh commands and importing ssh_config hosts; no connection is made."""

from __future__ import annotations

import pytest

from ppdesk.remote.sshcommand import import_ssh_config, parse_ssh_command

# Addresses from the documentation ranges (RFC 5737); nothing here connects to them.
PARSE_CASES = [
    (
        "ssh root@203.0.113.7 -p 22101 -i ~/.ssh/id_ed25519",
        {"host": "203.0.113.7", "port": 22101, "user": "root", "auth": "key", "key_file": "~/.ssh/id_ed25519"},
    ),
    (
        "ssh -i ~/.ssh/id_ed25519 -p 22101 root@203.0.113.7",
        {"host": "203.0.113.7", "port": 22101, "user": "root", "auth": "key", "key_file": "~/.ssh/id_ed25519"},
    ),
    (
        "ssh -p22101 -i/keys/pod root@203.0.113.7",
        {"host": "203.0.113.7", "port": 22101, "user": "root", "auth": "key", "key_file": "/keys/pod"},
    ),
    (
        "ssh -o Port=2222 -o User=ubuntu -o IdentityFile=/k/id_rsa -o StrictHostKeyChecking=no 198.51.100.4",
        {"host": "198.51.100.4", "port": 2222, "user": "ubuntu", "auth": "key", "key_file": "/k/id_rsa"},
    ),
    (
        "ssh -o 'Port 2200' -tt -v 198.51.100.4",
        {"host": "198.51.100.4", "port": 2200, "user": "root", "auth": "agent", "key_file": None},
    ),
    (
        "ssh -l ubuntu 198.51.100.9",
        {"host": "198.51.100.9", "port": 22, "user": "ubuntu", "auth": "agent", "key_file": None},
    ),
    (
        "ssh://root@203.0.113.7:40022",
        {"host": "203.0.113.7", "port": 40022, "user": "root", "auth": "agent", "key_file": None},
    ),
    (
        "ssh -i '/home/me/my keys/pod' ssh://admin@pod.example:2201",
        {"host": "pod.example", "port": 2201, "user": "admin", "auth": "key", "key_file": "/home/me/my keys/pod"},
    ),
    (
        "  ssh root@203.0.113.7 -p 22101 -L 8888:localhost:8888  ",
        {"host": "203.0.113.7", "port": 22101, "user": "root", "auth": "agent", "key_file": None},
    ),
    (
        "/usr/bin/ssh 203.0.113.7",
        {"host": "203.0.113.7", "port": 22, "user": "root", "auth": "agent", "key_file": None},
    ),
]


@pytest.mark.parametrize("text, expected", PARSE_CASES)
def test_parse_ssh_command(text, expected):
    assert parse_ssh_command(text) == expected


REJECT_CASES = [
    ("ssh abc123-64411a2b@ssh.runpod.io -i ~/.ssh/id_ed25519", "SSH over exposed TCP"),
    ("ssh root@203.0.113.7 -p 70000", "'70000'"),
    ("ssh root@203.0.113.7 -p twenty", "'twenty'"),
    ("ssh -p 22", "no destination"),
    ("", "empty ssh command"),
    ("ssh root@203.0.113.7 -p", "-p needs a value"),
    ("ssh -J jump@198.51.100.1 root@203.0.113.7", "ProxyJump"),
    ("ssh root@203.0.113.7 ls -la", "'ls'"),
    ("ssh -Z root@203.0.113.7", "'-Z'"),
    ("ssh 'root@203.0.113.7", "cannot split"),
    ("ssh://root@203.0.113.7:99999", "invalid ssh URL"),
]


@pytest.mark.parametrize("text, fragment", REJECT_CASES)
def test_parse_rejects(text, fragment):
    with pytest.raises(ValueError) as caught:
        parse_ssh_command(text)
    assert fragment in str(caught.value)


def test_runpod_proxy_message():
    with pytest.raises(ValueError) as caught:
        parse_ssh_command("ssh 3kx9m2p1q8-64411a2b@ssh.runpod.io -i ~/.ssh/id_ed25519")
    message = str(caught.value)
    assert "interactive shell only" in message
    assert "without SFTP" in message


def test_import_ssh_config(tmp_path):
    config = tmp_path / "config"
    config.write_text(
        "Host pod-a\n"
        "    HostName 203.0.113.7\n"
        "    Port 22101\n"
        "    User root\n"
        "    IdentityFile /keys/pod_a\n"
        "\n"
        "Host pod-b pod-b-alias\n"
        "    HostName 198.51.100.4\n"
        "    User ubuntu\n"
        "\n"
        "Host behind-bastion\n"
        "    HostName 10.0.0.5\n"
        "    ProxyCommand ssh -W %h:%p bastion.example\n"
        "\n"
        "Host jumped\n"
        "    HostName 10.0.0.6\n"
        "    ProxyJump bastion.example\n"
        "\n"
        "Host *.internal\n"
        "    User admin\n"
        "\n"
        "Host *\n"
        "    ServerAliveInterval 30\n"
    )
    warnings = []
    profiles = {profile.name: profile for profile in import_ssh_config(str(config), warnings)}

    assert sorted(profiles) == ["behind-bastion", "pod-a", "pod-b", "pod-b-alias"]
    pod_a = profiles["pod-a"]
    assert (pod_a.host, pod_a.port, pod_a.user, pod_a.auth, pod_a.key_file) == ("203.0.113.7", 22101, "root", "key", "/keys/pod_a")
    pod_b = profiles["pod-b-alias"]
    assert (pod_b.host, pod_b.port, pod_b.user, pod_b.auth, pod_b.key_file) == ("198.51.100.4", 22, "ubuntu", "agent", None)
    assert profiles["behind-bastion"].proxy_command == "ssh -W 10.0.0.5:22 bastion.example"
    assert len(warnings) == 1
    assert "'jumped'" in warnings[0]
    assert "ProxyJump" in warnings[0]
