"""SshTransport login against a real sshd: key types, passphrases, the agent, failures."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed448

from ppdesk.remote.errors import ConnectionFailed
from ppdesk.remote.ssh_auth import SshPrompts

from helpers.sshd_server import PASSPHRASE, free_port


def accept_all(passphrase=None, requested=None):
    def ask(path: str):
        if requested is not None:
            requested.append(path)
        return passphrase

    return SshPrompts(confirm_host_key=lambda info: True, ask_passphrase=ask)


@pytest.mark.ssh
@pytest.mark.parametrize("key", ["ed25519", "rsa", "ecdsa"])
def test_key_login_by_type(make_ssh, key):
    transport = make_ssh(key=key)
    transport.connect()
    assert transport.stat("/etc/hostname").size > 0


@pytest.mark.ssh
def test_passphrase_key_asks_once(make_ssh, client_keys):
    requested = []
    transport = make_ssh(key="ed25519_passphrase", prompts=accept_all(PASSPHRASE, requested))
    transport.connect()
    transport.reconnect(force=True)
    assert requested == [str(client_keys["ed25519_passphrase"])]
    assert transport.stat("/etc/hostname").size > 0


@pytest.mark.ssh
def test_passphrase_missing_message(make_ssh, client_keys):
    transport = make_ssh(key="ed25519_passphrase", prompts=accept_all(None))
    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()
    assert str(caught.value) == f"key needs a passphrase: {client_keys['ed25519_passphrase']}"


@pytest.mark.ssh
def test_wrong_passphrase_message(make_ssh, client_keys):
    transport = make_ssh(key="ed25519_passphrase", prompts=accept_all("not the passphrase"))
    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()
    assert str(caught.value) == f"wrong passphrase for {client_keys['ed25519_passphrase']}"


@pytest.mark.ssh
def test_rejected_key_message(make_ssh):
    transport = make_ssh(key="rejected")
    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()
    assert str(caught.value) == "authentication rejected for root@127.0.0.1"


@pytest.mark.ssh
def test_public_key_contents_message(make_ssh, client_keys, tmp_path):
    public_only = tmp_path / "id_public_only"
    public_only.write_text(client_keys["ed25519"].with_suffix(".pub").read_text())
    transport = make_ssh(key_file=str(public_only))
    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()
    assert str(caught.value) == (
        f"{public_only} is a public key; choose the private key file of the pair, "
        f"the one whose name does not end in .pub"
    )


@pytest.mark.ssh
def test_unsupported_key_message(make_ssh, tmp_path):
    ed448_key = tmp_path / "id_ed448"
    ed448_key.write_bytes(
        ed448.Ed448PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    transport = make_ssh(key_file=str(ed448_key))
    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()
    assert str(caught.value) == (
        f"unsupported key type in {ed448_key}: Ed448PrivateKey keys cannot be used; use an ed25519, ECDSA or RSA key"
    )


@pytest.mark.ssh
def test_agent_login(make_ssh, ssh_agent, client_keys):
    ssh_agent(client_keys["rsa"])
    transport = make_ssh(auth="agent", key_file=None)
    transport.connect()
    assert transport.stat("/etc/hostname").size > 0


@pytest.mark.ssh
def test_agent_without_keys_message(make_ssh, ssh_agent):
    transport = make_ssh(auth="agent", key_file=None)
    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()
    assert "offers no keys" in str(caught.value)


@pytest.mark.ssh
def test_agent_rejected_key_message(make_ssh, ssh_agent, client_keys):
    ssh_agent(client_keys["rejected"])
    transport = make_ssh(auth="agent", key_file=None)
    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()
    assert str(caught.value).startswith("authentication rejected for root@127.0.0.1")


@pytest.mark.ssh
def test_refused_port_message(make_ssh):
    port = free_port()
    transport = make_ssh(port=port)
    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()
    assert str(caught.value) == f"connection refused by 127.0.0.1:{port} (is sshd running on that port?)"
