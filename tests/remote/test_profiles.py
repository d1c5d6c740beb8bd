"""The profile store: JSON round trip, validation, no secrets."""

from __future__ import annotations

import json

import pytest

from ppdesk.remote.profiles import MAX_NAME_LENGTH, Profile, ProfileStore, check_profile_name, suggest_profile_name
from ppdesk.remote.sshcommand import parse_ssh_command


def sample(name: str = "pod-a", **fields) -> Profile:
    values = {"name": name, "host": "203.0.113.7", "port": 22101, "key_file": "~/.ssh/id_ed25519"}
    values.update(fields)
    return Profile(**values)


def test_store_round_trip(tmp_path):
    store = ProfileStore(tmp_path / "cfg" / "profiles.json")
    store.save(sample("pod-b", auth="agent", key_file=None, root="/data", python="/opt/py/bin/python3"))
    store.save(sample("pod-a", loras_dir="/data/loras", destination="/home/me/out"))

    loaded = store.load()
    assert [profile.name for profile in loaded] == ["pod-a", "pod-b"]
    assert loaded[0] == sample("pod-a", loras_dir="/data/loras", destination="/home/me/out")
    assert store.get("pod-b").python == "/opt/py/bin/python3"
    assert store.get("pod-b").root == "/data"


def test_store_has_no_secret_fields(tmp_path):
    store = ProfileStore(tmp_path / "profiles.json")
    store.save(sample(auth="password", key_file=None))
    stored = json.loads(store.path.read_text())["profiles"][0]
    assert set(stored) == {"name", "host", "port", "user", "auth", "key_file", "root", "python", "loras_dir",
                           "destination", "proxy_command"}


def test_store_rejects_duplicate_name(tmp_path):
    store = ProfileStore(tmp_path / "profiles.json")
    store.save(sample())
    with pytest.raises(ValueError) as caught:
        store.save(sample(host="198.51.100.4"))
    assert "'pod-a' exists already" in str(caught.value)
    store.save(sample(host="198.51.100.4"), replace=True)
    assert store.get("pod-a").host == "198.51.100.4"


def test_store_remove_and_unknown(tmp_path):
    store = ProfileStore(tmp_path / "profiles.json")
    store.save(sample())
    store.remove("pod-a")
    assert store.load() == []
    with pytest.raises(KeyError):
        store.remove("pod-a")
    with pytest.raises(KeyError) as caught:
        store.get("nope")
    assert "'nope'" in str(caught.value)


def test_store_damaged_file(tmp_path):
    path = tmp_path / "profiles.json"
    path.write_text("{not json")
    with pytest.raises(ValueError) as caught:
        ProfileStore(path).load()
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    "fields, fragment",
    [
        ({"port": 0}, "invalid port 0"),
        ({"host": "bad host"}, "invalid host 'bad host'"),
        ({"auth": "kerberos"}, "invalid auth 'kerberos'"),
        ({"auth": "key", "key_file": None}, "names no key file"),
        ({"root": "workspace"}, "invalid workspace root 'workspace'"),
    ],
)
def test_profile_validation(fields, fragment):
    with pytest.raises(ValueError) as caught:
        sample(**fields)
    assert fragment in str(caught.value)


def test_profile_name_validation(tmp_path):
    with pytest.raises(ValueError) as caught:
        ProfileStore(tmp_path / "profiles.json").save(sample("bad name/x"))
    assert "invalid profile name 'bad name/x'" in str(caught.value)


VALID_NAMES = [
    "pod-a",
    "a.b_c-1",
    "root@127.0.0.1 port 2222",
    "root@127.0.0.1 port 2222 (2)",
    "Pod Tools ü",
    "x" * MAX_NAME_LENGTH,
]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_profile_name_accepted(name):
    assert check_profile_name(name) == name


INVALID_NAMES = [
    ("", "empty profile name"),
    ("x" * (MAX_NAME_LENGTH + 1), f"is {MAX_NAME_LENGTH + 1} characters long: use at most {MAX_NAME_LENGTH}"),
    ("root@127.0.0.1:2222", "':' is not allowed"),
    ("pods/a", "'/' is not allowed"),
    ("pods\\a", "'\\\\' is not allowed"),
    ("pod*", "'*' is not allowed"),
    ("pod\nb", "'\\n' is not allowed"),
    ("pod\tb", "'\\t' is not allowed"),
    (" pod", "start it with a letter or digit"),
    ("-pod", "start it with a letter or digit"),
    ("pod.", "must not end with a space or '.'"),
    ("pod ", "must not end with a space or '.'"),
    ("con", "Windows reserves that name"),
    ("NUL.txt", "Windows reserves that name"),
    ("com1", "Windows reserves that name"),
]


@pytest.mark.parametrize("name, fragment", INVALID_NAMES)
def test_profile_name_rejected(name, fragment):
    with pytest.raises(ValueError) as caught:
        check_profile_name(name)
    message = str(caught.value)
    assert fragment in message
    if name:
        assert repr(name) in message


# Commands in the forms providers print; addresses from the documentation ranges (RFC 5737), never connected to.
NAME_CASES = [
    # RunPod, "SSH over exposed TCP".
    ("ssh root@203.0.113.7 -p 22101 -i ~/.ssh/id_ed25519", "root@203.0.113.7 port 22101"),
    # Vast.ai style, to the instance's address and to a relay host name.
    ("ssh -p 40123 root@198.51.100.4 -L 8080:localhost:8080", "root@198.51.100.4 port 40123"),
    ("ssh -p 41234 root@ssh4.vast.example -L 8080:localhost:8080", "root@ssh4.vast.example port 41234"),
    # Plain OpenSSH.
    ("ssh -p 2222 -i /keys/pod ubuntu@127.0.0.1", "ubuntu@127.0.0.1 port 2222"),
    ("ssh -i /keys/pod admin@127.0.0.1", "admin@127.0.0.1"),
    ("ssh://root@127.0.0.1:40022", "root@127.0.0.1 port 40022"),
    ("ssh -p 2222 root@::1", "root@--1 port 2222"),
    ("ssh -l ubuntu+ci -p 2200 127.0.0.1", "ubuntu_ci@127.0.0.1 port 2200"),
]


@pytest.mark.parametrize("command, expected", NAME_CASES)
def test_suggested_name_from_command(command, expected):
    fields = parse_ssh_command(command)
    name = suggest_profile_name(fields["user"], fields["host"], fields["port"])
    assert name == expected
    assert check_profile_name(name) == name
    assert suggest_profile_name(fields["user"], fields["host"], fields["port"]) == name


def test_suggested_name_numbered_when_taken():
    existing = ["root@127.0.0.1 port 2222"]
    assert suggest_profile_name("root", "127.0.0.1", 2222, existing) == "root@127.0.0.1 port 2222 (2)"
    existing.append("ROOT@127.0.0.1 PORT 2222 (2)")
    assert suggest_profile_name("root", "127.0.0.1", 2222, existing) == "root@127.0.0.1 port 2222 (3)"
    assert suggest_profile_name("root", "127.0.0.1", 2223, existing) == "root@127.0.0.1 port 2223"


def test_suggested_name_cuts_long_host():
    host = "gpu-" + "a" * 120 + ".example"
    first = suggest_profile_name("root", host, 40022)
    name = suggest_profile_name("root", host, 40022, [first])
    assert len(first) == MAX_NAME_LENGTH
    assert first.endswith(" port 40022")
    assert len(name) == MAX_NAME_LENGTH
    assert name.endswith(" port 40022 (2)")
    assert name.startswith("root@gpu-aaa")
    assert check_profile_name(name) == name


def test_suggested_name_saved_and_loaded(tmp_path):
    store = ProfileStore(tmp_path / "profiles.json")
    name = suggest_profile_name("root", "127.0.0.1", 2222)
    store.save(sample(name, host="127.0.0.1", port=2222))
    assert [profile.name for profile in ProfileStore(store.path).load()] == ["root@127.0.0.1 port 2222"]
    assert json.loads(store.path.read_text())["profiles"][0]["name"] == "root@127.0.0.1 port 2222"
