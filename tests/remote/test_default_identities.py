"""Login without a chosen key file against a real sshd: the agent's keys, then ~/.ssh's default files.

HOME points into tmp_path in every test, so no test reads the real ~/.ssh.
The order of the keys offered is read from the sshd log, where OpenSSH at
LogLevel VERBOSE writes one "Failed publickey" or "Accepted publickey" line
per key, with its SHA256 fingerprint.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Iterator, List, Optional

import paramiko
import pytest

from ppdesk.remote.default_identities import DEFAULT_IDENTITY_NAMES, login_with_default_identities
from ppdesk.remote.errors import ConnectionFailed

from helpers.sshd_server import PASSPHRASE, SshdServer, keygen, ssh_keygen_fingerprint, start_server_with_options


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME in tmp_path with an empty ~/.ssh folder."""
    folder = tmp_path / "home"
    (folder / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: folder))
    return folder


@pytest.fixture
def no_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


@pytest.fixture
def connect(sshd: SshdServer) -> Iterator:
    """Return a function that opens an unauthenticated paramiko transport to a server (default ``sshd``)."""
    opened: List[paramiko.Transport] = []

    def open_transport(server: Optional[SshdServer] = None) -> paramiko.Transport:
        transport = paramiko.Transport(("127.0.0.1", (server or sshd).port))
        opened.append(transport)
        transport.start_client(timeout=10)
        return transport

    yield open_transport
    for transport in opened:
        transport.close()


def install_key(home: Path, name: str, source: Path, with_public: bool = True) -> Path:
    """Copy the key pair ``source`` to ``~/.ssh/<name>`` (and ``<name>.pub``) with mode 600."""
    target = home / ".ssh" / name
    shutil.copyfile(source, target)
    target.chmod(0o600)
    if with_public:
        shutil.copyfile(f"{source}.pub", f"{target}.pub")
    return target


def fingerprint(key: Path) -> str:
    return ssh_keygen_fingerprint(Path(f"{key}.pub"))


def publickey_lines(server: SshdServer) -> List[str]:
    """Return "Failed <fingerprint>" or "Accepted <fingerprint>" for every publickey line in the server's log."""
    found = re.findall(r"(Failed|Accepted) publickey for \S+ from .* ssh2: \S+ (SHA256:\S+)", server.read_log())
    return [f"{outcome} {print_}" for outcome, print_ in found]


def never_asked(path: str) -> Optional[str]:
    raise AssertionError(f"asked for the passphrase of {path}")


@pytest.mark.ssh
def test_default_ed25519_key_logs_in(connect, home, no_agent, client_keys):
    key_file = install_key(home, "id_ed25519", client_keys["ed25519"])
    transport = connect()

    key = login_with_default_identities(transport, "root", "127.0.0.1", never_asked)

    assert transport.is_authenticated()
    assert key is not None
    assert key.fingerprint == fingerprint(key_file)


@pytest.mark.ssh
def test_encrypted_default_key_asks_passphrase(connect, home, no_agent, client_keys):
    key_file = install_key(home, "id_ed25519", client_keys["ed25519_passphrase"])
    asked: List[str] = []

    def ask(path: str) -> str:
        asked.append(path)
        return PASSPHRASE

    transport = connect()
    login_with_default_identities(transport, "root", "127.0.0.1", ask)

    assert transport.is_authenticated()
    assert asked == [str(key_file)]


@pytest.mark.ssh
def test_agent_key_accepted_first(connect, home, ssh_agent, client_keys):
    ssh_agent(client_keys["rsa"])
    install_key(home, "id_ed25519", client_keys["ed25519_passphrase"])
    transport = connect()

    key = login_with_default_identities(transport, "root", "127.0.0.1", never_asked)

    assert transport.is_authenticated()
    assert key is None


@pytest.mark.ssh
def test_agent_keys_offered_before_files(connect, home, ssh_agent, client_keys, private_sshd):
    ssh_agent(client_keys["rejected"])
    install_key(home, "id_ed25519", client_keys["ed25519"])
    transport = connect(private_sshd)

    login_with_default_identities(transport, "root", "127.0.0.1", never_asked)

    assert publickey_lines(private_sshd) == [
        f"Failed {fingerprint(client_keys['rejected'])}",
        f"Accepted {fingerprint(client_keys['ed25519'])}",
    ]


@pytest.mark.ssh
def test_files_offered_in_openssh_order(connect, home, no_agent, client_keys, private_sshd, tmp_path):
    other = keygen(tmp_path / "other", "ed25519")
    # The files contain other key types than their names suggest, because ppdesk loads each by its contents.
    install_key(home, "id_ed25519", client_keys["ed25519"])
    install_key(home, "id_ecdsa", other)
    install_key(home, "id_rsa", client_keys["rejected"])
    transport = connect(private_sshd)

    login_with_default_identities(transport, "root", "127.0.0.1", never_asked)

    assert publickey_lines(private_sshd) == [
        f"Failed {fingerprint(client_keys['rejected'])}",
        f"Failed {fingerprint(other)}",
        f"Accepted {fingerprint(client_keys['ed25519'])}",
    ]


@pytest.mark.ssh
def test_key_in_agent_not_offered_twice(connect, home, ssh_agent, client_keys, private_sshd):
    ssh_agent(client_keys["rejected"])
    key_file = install_key(home, "id_ed25519", client_keys["rejected"])
    transport = connect(private_sshd)

    with pytest.raises(ConnectionFailed) as caught:
        login_with_default_identities(transport, "root", "127.0.0.1", never_asked)

    assert publickey_lines(private_sshd) == [f"Failed {fingerprint(client_keys['rejected'])}"]
    assert f"{key_file} (skipped: the same key as one in the SSH agent, offered there)" in str(caught.value)


@pytest.mark.ssh
def test_nothing_to_offer_message(connect, home, no_agent):
    transport = connect()

    with pytest.raises(ConnectionFailed) as caught:
        login_with_default_identities(transport, "root", "127.0.0.1", never_asked)

    names = ", ".join(DEFAULT_IDENTITY_NAMES)
    assert str(caught.value) == (
        f"no SSH key found to log in to root@127.0.0.1: tried the SSH agent (not available: SSH_AUTH_SOCK is not "
        f"set) and the default key files in {home / '.ssh'} (none of {names} exists); add your key to an SSH "
        f"agent with ssh-add, or choose key file authentication with your private key file"
    )


@pytest.mark.ssh
def test_all_rejected_message(connect, home, ssh_agent, client_keys, tmp_path):
    socket_path = tmp_path / "agent.sock"
    rejected = install_key(home, "id_rsa", client_keys["rejected"])
    security_key = home / ".ssh" / "id_ed25519_sk"
    security_key.write_text("not loaded\n")
    encrypted = install_key(home, "id_ed25519", client_keys["ed25519_passphrase"])
    transport = connect()

    with pytest.raises(ConnectionFailed) as caught:
        login_with_default_identities(transport, "root", "127.0.0.1", lambda path: None)

    assert str(caught.value) == (
        f"authentication rejected for root@127.0.0.1: tried the SSH agent at {socket_path} (offers no keys, "
        f"or is not running) and the default key files {rejected} (rejected by the server), "
        f"{encrypted} (needs a passphrase, none was entered), "
        f"{security_key} (skipped: a security key (FIDO) key, which ppdesk cannot use); "
        f"check that the public key of one of them is in ~/.ssh/authorized_keys of user 'root' on the pod, "
        f"or choose key file authentication with the key the pod accepts"
    )


@pytest.mark.ssh
def test_wrong_passphrase_listed(connect, home, no_agent, client_keys):
    encrypted = install_key(home, "id_ed25519", client_keys["ed25519_passphrase"])
    transport = connect()

    with pytest.raises(ConnectionFailed) as caught:
        login_with_default_identities(transport, "root", "127.0.0.1", lambda path: "not the passphrase")

    assert f"{encrypted} (wrong passphrase)" in str(caught.value)
    assert str(caught.value).startswith("no SSH key found to log in to root@127.0.0.1: ")


@pytest.mark.ssh
def test_unusable_file_skipped(connect, home, no_agent, client_keys):
    public_only = home / ".ssh" / "id_rsa"
    public_only.write_text(Path(f"{client_keys['rsa']}.pub").read_text())
    install_key(home, "id_ed25519", client_keys["ed25519"])
    transport = connect()

    login_with_default_identities(transport, "root", "127.0.0.1", never_asked)

    assert transport.is_authenticated()


@pytest.mark.ssh
def test_server_limit_message(connect, home, ssh_agent, client_keys, tmp_path):
    server = start_server_with_options(tmp_path / "sshd-limit", client_keys, ["MaxAuthTries 2"])
    try:
        ssh_agent(client_keys["rejected"])
        other = install_key(home, "id_rsa", keygen(tmp_path / "other", "ed25519"))
        accepted = install_key(home, "id_ed25519", client_keys["ed25519"])
        transport = connect(server)

        with pytest.raises(ConnectionFailed) as caught:
            login_with_default_identities(transport, "root", "127.0.0.1", never_asked)
    finally:
        server.stop()

    message = str(caught.value)
    assert message.startswith(
        "authentication rejected for root@127.0.0.1: the server closed the connection after 2 rejected keys, "
        f"which is its limit (OpenSSH's MaxAuthTries); tried the SSH agent at {tmp_path / 'agent.sock'} "
        f"(1 key, rejected) and the default key files {other} (rejected by the server); "
    )
    assert str(accepted) not in message
    assert not transport.is_active()


@pytest.mark.ssh
def test_chosen_key_only_key_offered(make_ssh, home, no_agent, client_keys, private_sshd):
    install_key(home, "id_ed25519", client_keys["ed25519"])
    transport = make_ssh(key="rejected", server=private_sshd)

    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()

    assert str(caught.value) == "authentication rejected for root@127.0.0.1"
    assert publickey_lines(private_sshd) == [f"Failed {fingerprint(client_keys['rejected'])}"]
