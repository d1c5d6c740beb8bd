"""Unknown, changed and recycled host keys: never accepted silently, always shown with fingerprints."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import paramiko
import pytest
from faults.conftest import kill_sessions

from ppdesk.remote.errors import HostKeyError
from ppdesk.remote.hostkeys import HostKeyChangedError, HostKeyStore, host_key_name
from ppdesk.remote.ssh_auth import SshPrompts
from ppdesk.transfer.engine import download
from ppdesk.transfer.plan import PlannedFile
from ppdesk.transfer.report import FileStatus


def _store(tmp_path: Path, name: str) -> HostKeyStore:
    return HostKeyStore(own_path=tmp_path / name / "own_known_hosts", user_path=tmp_path / name / "user_known_hosts")


def _recording_prompts(answer: bool, seen: list) -> SshPrompts:
    def confirm(info) -> bool:
        seen.append(info)
        return answer

    return SshPrompts(confirm_host_key=confirm)


@pytest.mark.ssh
def test_unknown_key_rejected_shows_fingerprint(make_transport, own_sshd, tmp_path):
    store = _store(tmp_path, "keys")
    seen: list = []
    transport = make_transport(tmp_path / "ws", server=own_sshd, host_keys=store, prompts=_recording_prompts(False, seen))
    with pytest.raises(HostKeyError) as caught:
        transport.connect()

    fingerprint = own_sshd.host_fingerprint()
    assert [info.fingerprint for info in seen] == [fingerprint]
    assert fingerprint in str(caught.value)
    assert "not accepted" in str(caught.value)
    assert not store.own_path.exists()


@pytest.mark.ssh
def test_changed_key_rejected_without_prompt(make_transport, own_sshd, tmp_path):
    store = _store(tmp_path, "keys")
    seen: list = []
    first = make_transport(tmp_path / "ws", server=own_sshd, host_keys=store, prompts=_recording_prompts(True, seen))
    first.connect()
    first.close()
    old_fingerprint = own_sshd.host_fingerprint()
    saved = store.own_path.read_bytes()

    own_sshd.restart_with_new_host_key()
    second = make_transport(tmp_path / "ws", server=own_sshd, host_keys=store, prompts=_recording_prompts(True, seen))
    with pytest.raises(HostKeyChangedError) as caught:
        second.connect()

    message = str(caught.value)
    assert old_fingerprint in message
    assert own_sshd.host_fingerprint() in message
    assert "ssh-keygen -R" in message
    assert len(seen) == 1  # only the first, unknown key was ever offered for acceptance
    assert store.own_path.read_bytes() == saved


@pytest.mark.ssh
def test_recycled_address_from_openssh_file(make_transport, own_sshd, tmp_path):
    """The address was known in ~/.ssh/known_hosts for another machine; the new one is rejected."""
    store = _store(tmp_path, "keys")
    other = paramiko.Ed25519Key.from_private_key_file(str(own_sshd.host_key))
    keys = paramiko.HostKeys()
    keys.add(host_key_name("127.0.0.1", own_sshd.port), other.get_name(), other)
    store.user_path.parent.mkdir(parents=True)
    keys.save(str(store.user_path))
    user_file = store.user_path.read_bytes()
    own_sshd.restart_with_new_host_key()
    seen: list = []

    transport = make_transport(tmp_path / "ws", server=own_sshd, host_keys=store, prompts=_recording_prompts(True, seen))
    with pytest.raises(HostKeyChangedError) as caught:
        transport.connect()

    assert seen == []
    assert str(store.user_path) in str(caught.value)
    assert own_sshd.host_fingerprint() in str(caught.value)
    assert store.user_path.read_bytes() == user_file
    assert not store.own_path.exists()


@pytest.mark.ssh
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_key_changes_during_download(make_transport, own_sshd, tmp_path, progress_every_block):
    """A pod recycled in the middle of a download: the reconnect is rejected, the download stops."""
    # Larger than any read-ahead window, so the swap lands in the middle of the transfer.
    data = os.urandom(192 * 1024 * 1024)
    source = tmp_path / "pod" / "model.safetensors"
    source.parent.mkdir()
    source.write_bytes(data)
    stat = source.stat()
    planned = PlannedFile(str(source), "model.safetensors", stat.st_size, stat.st_mtime, hashlib.sha256(data).hexdigest())
    store = _store(tmp_path, "keys")
    seen: list = []
    transport = make_transport(tmp_path / "ws", server=own_sshd, host_keys=store, prompts=_recording_prompts(True, seen))
    transport.connect()
    swapped = []

    def swap_server(progress) -> None:
        if not swapped and progress.file_done >= 4 * 1024 * 1024:
            kill_sessions(own_sshd)
            own_sshd.restart_with_new_host_key()
            swapped.append(True)

    report = download(transport, [planned], tmp_path / "dest", jobs=1, on_progress=swap_server, backoff=0.05)

    outcome = report.outcomes[0]
    assert swapped
    assert outcome.status == FileStatus.FAILED
    assert "host key" in outcome.message
    assert own_sshd.host_fingerprint() in outcome.message
    assert len(seen) == 1
    assert not (tmp_path / "dest" / "model.safetensors").exists()
