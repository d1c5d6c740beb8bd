"""Host key checks against a real sshd: prompt, remember, reject changes, known_hosts files."""

from __future__ import annotations

import base64
from pathlib import Path

import paramiko
import pytest
from helpers.sshd_server import ssh_keygen_fingerprint

from ppdesk.remote.errors import HostKeyError
from ppdesk.remote.hostkeys import HostKeyChangedError, HostKeyStore, host_key_name, sha256_fingerprint
from ppdesk.remote.ssh_auth import SshPrompts


def recording_prompts(answer: bool, seen: list) -> SshPrompts:
    def confirm(info) -> bool:
        seen.append(info)
        return answer

    return SshPrompts(confirm_host_key=confirm)


def test_fingerprint_matches_ssh_keygen(client_keys):
    for name in ("ed25519", "rsa", "ecdsa"):
        public = Path(f"{client_keys[name]}.pub")
        key_type, blob = public.read_text().split()[:2]
        key = paramiko.PKey.from_type_string(key_type, base64.b64decode(blob))
        assert sha256_fingerprint(key) == ssh_keygen_fingerprint(public)


def test_host_key_name_forms():
    assert host_key_name("pod.example", 22) == "pod.example"
    assert host_key_name("203.0.113.7", 22101) == "[203.0.113.7]:22101"


@pytest.mark.ssh
def test_unknown_key_prompted_and_saved(make_ssh, sshd, known_hosts):
    seen = []
    transport = make_ssh(prompts=recording_prompts(True, seen))
    transport.connect()

    assert len(seen) == 1
    assert seen[0].fingerprint == sshd.host_fingerprint()
    assert seen[0].key_type == "ssh-ed25519"
    assert (seen[0].host, seen[0].port) == ("127.0.0.1", sshd.port)
    lines = known_hosts.own_path.read_text().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"[127.0.0.1]:{sshd.port} ssh-ed25519 ")
    assert not known_hosts.user_path.exists()


@pytest.mark.ssh
def test_accepted_key_not_asked_again(make_ssh):
    first_seen, second_seen = [], []
    make_ssh(prompts=recording_prompts(True, first_seen)).connect()
    make_ssh(prompts=recording_prompts(False, second_seen)).connect()
    assert len(first_seen) == 1
    assert second_seen == []


@pytest.mark.ssh
def test_declined_key_not_saved(make_ssh, known_hosts, sshd):
    seen = []
    transport = make_ssh(prompts=recording_prompts(False, seen))
    with pytest.raises(HostKeyError) as caught:
        transport.connect()
    assert sshd.host_fingerprint() in str(caught.value)
    assert len(seen) == 1
    assert not known_hosts.own_path.exists()


@pytest.mark.ssh
def test_no_prompt_callback_rejects(make_ssh):
    transport = make_ssh(prompts=SshPrompts())
    with pytest.raises(HostKeyError) as caught:
        transport.connect()
    assert "unknown and was not accepted" in str(caught.value)


@pytest.mark.ssh
def test_changed_key_rejected(make_ssh, private_sshd, known_hosts):
    make_ssh(server=private_sshd).connect()
    old = private_sshd.host_fingerprint()
    private_sshd.restart_with_new_host_key()
    new = private_sshd.host_fingerprint()
    assert old != new

    seen = []
    transport = make_ssh(server=private_sshd, prompts=recording_prompts(True, seen))
    with pytest.raises(HostKeyChangedError) as caught:
        transport.connect()
    message = str(caught.value)
    assert old in message
    assert new in message
    assert f"127.0.0.1:{private_sshd.port}" in message
    assert f"ssh-keygen -R '[127.0.0.1]:{private_sshd.port}'" in message
    assert seen == []

    known_hosts.replace_host_key("127.0.0.1", private_sshd.port, caught.value.new_key)
    make_ssh(server=private_sshd, prompts=recording_prompts(False, seen)).connect()
    assert seen == []


@pytest.mark.ssh
def test_hashed_openssh_entry_accepted(make_ssh, sshd, tmp_path):
    host_pub = Path(f"{sshd.host_key}.pub").read_text().split()
    hashed = paramiko.HostKeys.hash_host(f"[127.0.0.1]:{sshd.port}")
    user_file = tmp_path / "openssh_known_hosts"
    user_file.write_text(f"{hashed} {host_pub[0]} {host_pub[1]}\n")
    store = HostKeyStore(own_path=tmp_path / "own_known_hosts", user_path=user_file)

    seen = []
    make_ssh(host_keys=store, prompts=recording_prompts(False, seen)).connect()
    assert seen == []
    assert not store.own_path.exists()
    assert user_file.read_text() == f"{hashed} {host_pub[0]} {host_pub[1]}\n"


@pytest.mark.ssh
def test_openssh_entry_with_other_key_rejected(make_ssh, sshd, client_keys, tmp_path):
    other_pub = Path(f"{client_keys['ed25519']}.pub").read_text().split()
    user_file = tmp_path / "openssh_known_hosts"
    user_file.write_text(f"[127.0.0.1]:{sshd.port} {other_pub[0]} {other_pub[1]}\n")
    store = HostKeyStore(own_path=tmp_path / "own_known_hosts", user_path=user_file)

    with pytest.raises(HostKeyChangedError) as caught:
        make_ssh(host_keys=store).connect()
    assert str(user_file) in str(caught.value)
