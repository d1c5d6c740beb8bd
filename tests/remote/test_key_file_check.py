"""The key file check that runs before a connection: each unusable file, its message, and where it runs."""

from __future__ import annotations

import logging
import socket
import stat
import subprocess
from pathlib import Path
from typing import Dict

import pytest

from ppdesk.cli import main
from ppdesk.remote.errors import ConnectionFailed
from ppdesk.remote.ssh_auth import KeyFileError, check_key_file, load_private_key

from helpers.key_files import (
    BAD_KINDS,
    NOT_A_KEY,
    PUTTY_KEY,
    expected_message,
    run_without_override,
    write_bad_key_files,
)
from helpers.sshd_server import free_port, keygen


@pytest.fixture
def bad_keys(tmp_path: Path, client_keys) -> Dict[str, Path]:
    return write_bad_key_files(tmp_path / "keys", client_keys["ed25519"])


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_check_names_path_and_fix(bad_keys, kind):
    path = bad_keys[kind]
    with pytest.raises(KeyFileError) as caught:
        check_key_file(str(path))
    assert str(caught.value) == expected_message(kind, path)


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_load_raises_same_message(bad_keys, kind):
    path = bad_keys[kind]
    passphrase_requests = []
    with pytest.raises(ConnectionFailed) as caught:
        load_private_key(str(path), passphrase_requests.append)
    assert str(caught.value) == expected_message(kind, path)
    assert passphrase_requests == []


def test_messages_and_log_hold_no_key_text(bad_keys, client_keys, caplog):
    caplog.set_level(logging.DEBUG)
    public_body = Path(f"{client_keys['ed25519']}.pub").read_text().split()[1]
    secret_lines = [public_body, PUTTY_KEY.splitlines()[4], NOT_A_KEY.splitlines()[0]]
    messages = []
    for kind in ("public_pub", "public_renamed", "putty", "text"):
        with pytest.raises(KeyFileError) as caught:
            check_key_file(str(bad_keys[kind]))
        messages.append(str(caught.value))
    for line in secret_lines:
        for message in messages:
            assert line not in message
        assert line not in caplog.text


def test_folder_without_keys_gives_example(tmp_path):
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    with pytest.raises(KeyFileError) as caught:
        check_key_file(str(empty))
    assert str(caught.value) == (
        f"{empty} is a folder, not a key file; choose the private key file inside it, for example id_ed25519"
    )


def test_empty_path_rejected():
    for value in (None, "", "   "):
        with pytest.raises(KeyFileError) as caught:
            check_key_file(value)
        assert str(caught.value) == "no key file given: choose the private key file, for example ~/.ssh/id_ed25519"


def test_tilde_expanded_in_result(tmp_path, client_keys, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_bytes(client_keys["ed25519"].read_bytes())
    monkeypatch.setenv("HOME", str(home))
    assert check_key_file("~/.ssh/id_ed25519") == str(home / ".ssh" / "id_ed25519")
    with pytest.raises(KeyFileError) as caught:
        check_key_file("~/.ssh/id_rsa")
    assert str(caught.value) == (
        f"key file not found: {home / '.ssh' / 'id_rsa'}; check the path, or choose another private key file"
    )


@pytest.mark.parametrize("name", ["ed25519", "ed25519_passphrase", "rsa", "ecdsa"])
def test_usable_keys_pass(client_keys, name):
    assert check_key_file(str(client_keys[name])) == str(client_keys[name])


def test_pem_and_misnamed_private_keys_pass(tmp_path):
    pem = keygen(tmp_path / "id_rsa_pem", "rsa", bits=2048)
    # ssh-keygen -p -m PEM rewrites the key in the old PEM format.
    subprocess.run(["ssh-keygen", "-q", "-p", "-m", "PEM", "-N", "", "-P", "", "-f", str(pem)], check=True,
                   capture_output=True)
    assert pem.read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert check_key_file(str(pem)) == str(pem)
    # A private key saved under a .pub name is still a private key.
    misnamed = tmp_path / "private.pub"
    misnamed.write_bytes(pem.read_bytes())
    assert check_key_file(str(misnamed)) == str(misnamed)


UNREADABLE_CHECK = """
import sys
from ppdesk.remote.ssh_auth import KeyFileError, check_key_file
try:
    check_key_file(sys.argv[1])
except KeyFileError as exc:
    print(exc)
else:
    print("readable")
"""


def test_unreadable_file_names_permission(tmp_path, client_keys):
    key = tmp_path / "id_locked"
    key.write_bytes(client_keys["ed25519"].read_bytes())
    key.chmod(0)
    result = run_without_override(UNREADABLE_CHECK, str(key))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"cannot read key file {key}: permission denied; run ppdesk as the key's owner, "
        f"or give your user read access to it (chmod 600 keeps it private)"
    )


def test_unreadable_folder_names_permission(tmp_path, client_keys):
    folder = tmp_path / "locked"
    folder.mkdir()
    key = folder / "id_ed25519"
    key.write_bytes(client_keys["ed25519"].read_bytes())
    folder.chmod(0)
    try:
        result = run_without_override(UNREADABLE_CHECK, str(key))
    finally:
        folder.chmod(stat.S_IRWXU)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"cannot read key file {key}: permission denied on a folder in its path; "
        f"move the key to a folder you can read, or run ppdesk as the key's owner"
    )


def test_readable_check_in_child(client_keys):
    """The child process of the two tests above can read an ordinary key, so their messages come from the modes."""
    result = run_without_override(UNREADABLE_CHECK, str(client_keys["ed25519"]))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "readable"


@pytest.mark.ssh
@pytest.mark.parametrize("kind", ["missing", "public_pub", "folder"])
def test_transport_fails_with_check_message(make_ssh, bad_keys, kind):
    transport = make_ssh(key_file=str(bad_keys[kind]))
    with pytest.raises(KeyFileError) as caught:
        transport.connect()
    assert str(caught.value) == expected_message(kind, bad_keys[kind])


@pytest.mark.parametrize("kind", ["missing", "public_pub", "folder", "putty"])
def test_transport_checks_before_connecting(make_ssh, bad_keys, kind):
    # A saved profile opened from the main window takes this path, not the command line's check.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        transport = make_ssh(port=listener.getsockname()[1], key_file=str(bad_keys[kind]))
        with pytest.raises(KeyFileError) as caught:
            transport.connect()
        listener.setblocking(False)
        # connect() returns only after the TCP handshake, so an attempt would be queued here.
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert str(caught.value) == expected_message(kind, bad_keys[kind])


def test_transport_checks_before_proxy_command(make_ssh, bad_keys, tmp_path):
    marker = tmp_path / "proxy-started"
    transport = make_ssh(port=free_port(), key_file=str(bad_keys["missing"]), proxy_command=f"touch {marker}")
    with pytest.raises(KeyFileError):
        transport.connect()
    assert not marker.exists()


@pytest.mark.ssh
def test_reconnect_uses_loaded_key(make_ssh, client_keys, tmp_path):
    key = tmp_path / "id_moved"
    key.write_bytes(client_keys["ed25519"].read_bytes())
    key.chmod(0o600)
    transport = make_ssh(key_file=str(key))
    transport.connect()
    key.unlink()

    # The key is held in memory for reconnects, so the missing file does not matter now.
    transport.reconnect(force=True)

    assert transport.run_agent("probe")["python"].startswith("3.")


@pytest.fixture
def user_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.mark.parametrize("kind", ["missing", "public_pub", "folder", "putty"])
def test_cli_checks_before_connecting(user_dirs, bad_keys, kind, capsys):
    # Nothing listens on this port, so a connection attempt would fail with "connection refused".
    command = f"ssh root@127.0.0.1 -p {free_port()} -i {bad_keys[kind]}"
    with pytest.raises(SystemExit) as caught:
        main(["scan", "--ssh", command, "--accept-new-host-key"])
    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert err == f"ppdesk: error: {expected_message(kind, bad_keys[kind])}\n"


def test_cli_profile_add_checks_key(user_dirs, bad_keys, capsys):
    command = f"ssh root@127.0.0.1 -p 2222 -i {bad_keys['public_pub']}"
    with pytest.raises(SystemExit) as caught:
        main(["profile", "add", "pod", "--ssh", command])
    assert caught.value.code == 2
    assert capsys.readouterr().err == f"ppdesk: error: {expected_message('public_pub', bad_keys['public_pub'])}\n"
    assert not (user_dirs / "xdg-config" / "ppdesk" / "profiles.json").exists()


def test_suggestion_names_private_key(bad_keys):
    suggestions = {}
    for kind in BAD_KINDS:
        with pytest.raises(KeyFileError) as caught:
            check_key_file(str(bad_keys[kind]))
        suggestions[kind] = caught.value.suggestion
    assert suggestions.pop("public_pub") == str(bad_keys["public_pub"].parent / "id_pair")
    assert suggestions.pop("folder") == str(bad_keys["folder"] / "id_ed25519")
    assert set(suggestions.values()) == {None}
