"""The command line's SSH targets and the profile subcommand, against a real sshd."""

from __future__ import annotations

import json

import pytest

from ppdesk.cli import main


@pytest.fixture
def user_dirs(tmp_path, monkeypatch, client_keys):
    """Point the user config folder and HOME into tmp_path, with a private key at ~/.ssh/id_ed25519.

    ``profile add`` checks the key file, so the commands below name one that exists.
    """
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    (tmp_path / "home" / ".ssh" / "id_ed25519").write_bytes(client_keys["ed25519"].read_bytes())
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


def test_profile_list_empty_says_how_to_add(user_dirs, capsys):
    assert main(["profile", "list"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("no profiles; add one with: ppdesk profile add [NAME] --ssh ")


def test_profile_add_existing_names_replace(user_dirs, capsys):
    assert main(["profile", "add", "pod1", "--ssh", "ssh root@203.0.113.7 -p 22101 -i ~/.ssh/id_ed25519"]) == 0
    with pytest.raises(SystemExit) as caught:
        main(["profile", "add", "pod1", "--ssh", "ssh root@203.0.113.8 -p 22102 -i ~/.ssh/id_ed25519"])
    assert caught.value.code == 2
    assert "a profile named 'pod1' exists already; pass --replace to overwrite it" in capsys.readouterr().err

    assert main(["profile", "add", "pod1", "--replace", "--ssh", "ssh root@203.0.113.8 -p 22102 -i ~/.ssh/id_ed25519"]) == 0
    capsys.readouterr()
    assert main(["profile", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == 1
    assert listing[0].startswith("pod1\troot@203.0.113.8:22102\t")


def test_profile_add_names_ignored_options(user_dirs, capsys):
    command = "ssh -o StrictHostKeyChecking=no -L 8888:localhost:8888 root@203.0.113.7 -p 22101 -i ~/.ssh/id_ed25519"
    assert main(["profile", "add", "pod1", "--ssh", command]) == 0
    err = capsys.readouterr().err
    assert "ignored ssh options: -o StrictHostKeyChecking=no, -L 8888:localhost:8888;" in err
    assert "always checks host keys" in err


@pytest.mark.ssh
def test_scan_names_ignored_options(user_dirs, sshd, client_keys, demo_workspace, capsys):
    command = f"ssh -o StrictHostKeyChecking=no -L 8888:localhost:8888 {ssh_command(sshd, client_keys['ed25519'])[4:]}"
    status = main(["scan", "--ssh", command, "--remote-root", str(demo_workspace), "--accept-new-host-key", "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert captured.err.count("ignored ssh options: -o StrictHostKeyChecking=no, -L 8888:localhost:8888;") == 1
    # The host key was still checked: it is now saved.
    known_hosts = user_dirs / "xdg-config" / "ppdesk" / "known_hosts"
    assert known_hosts.read_text().startswith(f"[127.0.0.1]:{sshd.port} ssh-ed25519 ")


@pytest.mark.ssh
def test_missing_passphrase_names_env(user_dirs, sshd, client_keys, demo_workspace, capsys):
    key = client_keys["ed25519_passphrase"]
    status = main(["scan", "--ssh", ssh_command(sshd, key), "--remote-root", str(demo_workspace),
                   "--accept-new-host-key"])
    err = capsys.readouterr().err
    assert status == 1
    assert f"key needs a passphrase: {key}; run ppdesk in a terminal to be asked for it, or set PPDESK_KEY_PASSPHRASE" in err


@pytest.mark.ssh
def test_rejected_key_names_port_and_key(user_dirs, sshd, client_keys, demo_workspace, capsys):
    key = client_keys["rejected"]
    status = main(["scan", "--ssh", ssh_command(sshd, key), "--remote-root", str(demo_workspace),
                   "--accept-new-host-key"])
    err = capsys.readouterr().err
    assert status == 1
    assert "authentication rejected for root@127.0.0.1" in err
    assert f"tried port {sshd.port} with key file {key};" in err
    assert f"({key}.pub) is in ~/.ssh/authorized_keys of user 'root' on the pod" in err


@pytest.mark.ssh
def test_remote_root_without_simpletuner_names_option(user_dirs, sshd, client_keys, tmp_path, capsys):
    empty = tmp_path / "not-a-workspace"
    empty.mkdir()
    status = main(["scan", "--ssh", ssh_command(sshd, client_keys["ed25519"]), "--remote-root", str(empty),
                   "--accept-new-host-key", "--json"])
    err = capsys.readouterr().err
    assert status == 1
    assert (f"config folder not found: {empty}/SimpleTuner/config; "
            f"pass the pod folder that contains SimpleTuner/ with --remote-root DIR") in err


@pytest.mark.ssh
def test_rejected_agent_keys_name_port(user_dirs, sshd, client_keys, ssh_agent, demo_workspace, capsys):
    ssh_agent(client_keys["rejected"])
    # Without -i the default key files follow the agent's keys, so none may be accepted here.
    (user_dirs / "home" / ".ssh" / "id_ed25519").unlink()
    status = main(["scan", "--ssh", f"ssh root@127.0.0.1 -p {sshd.port}", "--remote-root", str(demo_workspace),
                   "--accept-new-host-key"])
    err = capsys.readouterr().err
    assert status == 1
    assert "authentication rejected for root@127.0.0.1" in err
    assert f"tried port {sshd.port} with the SSH agent's keys and the default key files in ~/.ssh (no -i key file given)" in err
    assert "or pass the key file with -i in --ssh" in err


def test_profile_add_without_name(user_dirs, capsys):
    command = "ssh root@203.0.113.7 -p 22101 -i ~/.ssh/id_ed25519"
    assert main(["profile", "add", "--ssh", command]) == 0
    assert main(["profile", "add", "--ssh", command]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("saved profile 'root@203.0.113.7 port 22101' (root@203.0.113.7:22101) to ")
    assert out[1].startswith("saved profile 'root@203.0.113.7 port 22101 (2)' (root@203.0.113.7:22101) to ")
    assert main(["profile", "list"]) == 0
    names = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["root@203.0.113.7 port 22101", "root@203.0.113.7 port 22101 (2)"]


def test_profile_add_without_name_replace(user_dirs, capsys):
    assert main(["profile", "add", "--ssh", "ssh root@203.0.113.7 -p 22101 -i ~/.ssh/id_ed25519"]) == 0
    assert main(["profile", "add", "--replace", "--remote-root", "/data", "--ssh",
                 "ssh root@203.0.113.7 -p 22101 -i ~/.ssh/id_ed25519"]) == 0
    capsys.readouterr()
    assert main(["profile", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing == ["root@203.0.113.7 port 22101\troot@203.0.113.7:22101\tauth=key key=~/.ssh/id_ed25519\troot=/data"]


def test_profile_add_invalid_name(user_dirs, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["profile", "add", "root@203.0.113.7:22101", "--ssh", "ssh root@203.0.113.7 -p 22101 -i ~/.ssh/id_ed25519"])
    assert caught.value.code == 2
    assert "invalid profile name 'root@203.0.113.7:22101': ':' is not allowed" in capsys.readouterr().err
