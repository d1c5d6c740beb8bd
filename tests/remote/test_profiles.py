"""The profile store: JSON round trip, validation, no secrets."""

from __future__ import annotations

import json

import pytest

from ppdesk.remote.profiles import Profile, ProfileStore


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
