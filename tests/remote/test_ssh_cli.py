"""The command line's SSH targets and the profile subcommand, against a real sshd."""

from __future__ import annotations

import json

import pytest

from ppdesk.cli import main


@pytest.fixture
def user_dirs(tmp_path, monkeypatch):
    """Point the user config folder and HOME (for ~/.ssh/known_hosts) into tmp_path."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PPDESK_KEY_PASSPHRASE", raising=False)
    return tmp_path


def ssh_command(sshd, key) -> str:
    return f"ssh root@127.0.0.1 -p {sshd.port} -i {key}"


def test_profile_add_list_remove(user_dirs, capsys):
    assert main(["profile", "add", "pod-a", "--ssh", "ssh root@203.0.113.7 -p 22101 -i ~/.ssh/id_ed25519",
                 "--remote-root", "/data"]) == 0
    assert main(["profile", "list"]) == 0
    listing = capsys.readouterr().out
    assert "pod-a\troot@203.0.113.7:22101\tauth=key key=~/.ssh/id_ed25519\troot=/data" in listing
    assert main(["profile", "remove", "pod-a"]) == 0
    capsys.readouterr()
    assert main(["profile", "list"]) == 0
    assert capsys.readouterr().out == ""


def test_profile_add_runpod_proxy_is_usage_error(user_dirs, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["profile", "add", "pod", "--ssh", "ssh abc-64411a2b@ssh.runpod.io -i ~/.ssh/id_ed25519"])
    assert caught.value.code == 2
    assert "SSH over exposed TCP" in capsys.readouterr().err


@pytest.mark.ssh
def test_scan_over_ssh_command(user_dirs, sshd, client_keys, demo_workspace, capsys):
    status = main(["scan", "--ssh", ssh_command(sshd, client_keys["ed25519"]), "--remote-root", str(demo_workspace),
                   "--accept-new-host-key", "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    names = [config["name"] for config in json.loads(captured.out)]
    assert "sofia_001_lr1e-4" in names
    assert sshd.host_fingerprint() in captured.err
    known_hosts = user_dirs / "xdg-config" / "ppdesk" / "known_hosts"
    assert known_hosts.read_text().startswith(f"[127.0.0.1]:{sshd.port} ssh-ed25519 ")


@pytest.mark.ssh
def test_scan_unknown_key_no_terminal(user_dirs, sshd, client_keys, demo_workspace, capsys):
    status = main(["scan", "--ssh", ssh_command(sshd, client_keys["ed25519"]), "--remote-root", str(demo_workspace)])
    captured = capsys.readouterr()
    assert status != 0
    assert "--accept-new-host-key" in captured.err
    assert not (user_dirs / "xdg-config" / "ppdesk" / "known_hosts").exists()


@pytest.mark.ssh
def test_scan_profile_env_passphrase(user_dirs, sshd, client_keys, demo_workspace, capsys, monkeypatch):
    from helpers.sshd_server import PASSPHRASE

    monkeypatch.setenv("PPDESK_KEY_PASSPHRASE", PASSPHRASE)
    assert main(["profile", "add", "local", "--ssh", ssh_command(sshd, client_keys["ed25519_passphrase"]),
                 "--remote-root", str(demo_workspace)]) == 0
    capsys.readouterr()
    status = main(["scan", "--profile", "local", "--accept-new-host-key", "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "sofia_001_lr1e-4" in [config["name"] for config in json.loads(captured.out)]
