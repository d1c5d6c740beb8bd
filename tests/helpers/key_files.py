"""Key files that cannot be used for a login, and a way to run code that cannot read them.

The tests run as root in CI, and root reads every file whatever its mode.
:func:`run_without_override` runs Python in a child process whose
capability bounding set lacks CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so
file modes apply to it as they do to any other user. The current process
and every account stay unchanged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
# Bounds a hang of the child process; a check takes well under a second.
CHILD_LIMIT_S = 120.0

PUTTY_KEY = (
    "PuTTY-User-Key-File-3: ssh-ed25519\n"
    "Encryption: none\n"
    "Comment: ppdesk-test\n"
    "Public-Lines: 2\n"
    "AAAAC3NzaC1lZDI1NTE5AAAAIPpdesktestpublicpartonlyAAAAAAAAAAAAAAAA\n"
    "AAAA\n"
)
NOT_A_KEY = "model_family = flux\nlearning_rate = 1e-4\n"


def write_bad_key_files(folder: Path, private_key: Path) -> Dict[str, Path]:
    """Write one file per kind of unusable key file into ``folder`` and return them by kind.

    ``private_key`` must have its public half next to it as ``<name>.pub``.
    Kinds: missing, folder, fifo, empty, too_large, public_pub (a .pub file
    whose private half exists), public_pub_alone (a .pub file without it),
    public_renamed (public key contents under a name without .pub), putty
    and text (a file with no key at all).
    """
    from ppdesk.remote.ssh_auth import MAX_KEY_FILE_BYTES

    folder.mkdir(parents=True, exist_ok=True)
    public_text = Path(f"{private_key}.pub").read_text()
    paths: Dict[str, Path] = {"missing": folder / "id_missing"}

    keys_folder = folder / "dot-ssh"
    keys_folder.mkdir()
    shutil.copy(private_key, keys_folder / "id_ed25519")
    paths["folder"] = keys_folder

    paths["fifo"] = folder / "id_fifo"
    os.mkfifo(paths["fifo"])
    paths["empty"] = folder / "id_empty"
    paths["empty"].write_bytes(b"")
    paths["too_large"] = folder / "model.safetensors"
    with paths["too_large"].open("wb") as handle:
        handle.truncate(MAX_KEY_FILE_BYTES + 1)

    pair = folder / "id_pair"
    shutil.copy(private_key, pair)
    paths["public_pub"] = Path(f"{pair}.pub")
    paths["public_pub"].write_text(public_text)
    paths["public_pub_alone"] = folder / "id_alone.pub"
    paths["public_pub_alone"].write_text(public_text)
    paths["public_renamed"] = folder / "id_public_only"
    paths["public_renamed"].write_text(public_text)

    paths["putty"] = folder / "pod.ppk"
    paths["putty"].write_text(PUTTY_KEY)
    paths["text"] = folder / "config.toml"
    paths["text"].write_text(NOT_A_KEY)
    return paths


def expected_message(kind: str, path: Path) -> str:
    """The exact message check_key_file gives for each file that write_bad_key_files writes."""
    folder = path.parent
    from ppdesk.remote.ssh_auth import MAX_KEY_FILE_BYTES

    messages = {
        "missing": f"key file not found: {path}; check the path, or choose another private key file",
        "folder": f"{path} is a folder, not a key file; choose the private key file inside it, "
        f"such as {path / 'id_ed25519'}",
        "fifo": f"{path} is not a regular file; choose the private key file, for example ~/.ssh/id_ed25519",
        "empty": f"key file {path} is empty; choose the private key file, for example ~/.ssh/id_ed25519",
        "too_large": f"{path} is {MAX_KEY_FILE_BYTES + 1} bytes, too large for an SSH key file "
        f"(at most {MAX_KEY_FILE_BYTES} bytes); choose the private key file",
        "public_pub": f"{path} is a public key; choose the private key {folder / 'id_pair'} "
        f"(the same name without .pub)",
        "public_pub_alone": f"{path} is a public key; choose the private key, which usually has the same name "
        f"without .pub ({folder / 'id_alone'} was not found)",
        "public_renamed": f"{path} is a public key; choose the private key file of the pair, "
        f"the one whose name does not end in .pub",
        "putty": f"{path} is a PuTTY key, which ppdesk cannot read; convert it with PuTTYgen "
        f"(Conversions > Export OpenSSH key) or 'puttygen {path} -O private-openssh -o {folder / 'pod'}', "
        f"then choose the converted file",
        "text": f"{path} is not an SSH private key: it has no 'BEGIN ... PRIVATE KEY' line; "
        f"choose the private key file, for example ~/.ssh/id_ed25519",
    }
    return messages[kind]


BAD_KINDS = ["missing", "folder", "fifo", "empty", "too_large", "public_pub", "public_pub_alone",
             "public_renamed", "putty", "text"]


def run_without_override(code: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``python -c code args...`` with file modes enforced, even as root; return the finished process.

    The child imports ppdesk from this repository. Uses util-linux's
    setpriv to drop the two override capabilities when running as root.
    """
    command: List[str] = [sys.executable, "-c", code, *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("setpriv not found: install util-linux, which the unreadable key file tests need as root")
        command = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", *command]
    env = dict(os.environ, PYTHONPATH=str(REPOSITORY))
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=CHILD_LIMIT_S, cwd=REPOSITORY)
