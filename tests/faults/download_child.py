"""Run one download over SSH in a process of its own and print what the parent test measures.

Usage: python download_child.py '<json>' with keys port, key_file, root,
source, sha256, dest. Prints one JSON line: the outcome status and message,
the SHA-256 of the result, the peak resident memory (VmHWM, KiB), the
seconds spent and how many key exchanges paramiko completed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from pathlib import Path


class _KexCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "Switch to new keys" in record.getMessage():
            self.count += 1


def _vmhwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def main() -> None:
    args = json.loads(sys.argv[1])
    counter = _KexCounter()
    paramiko_log = logging.getLogger("paramiko.transport")
    paramiko_log.setLevel(logging.DEBUG)
    paramiko_log.addHandler(counter)

    from ppdesk.remote.hostkeys import HostKeyStore
    from ppdesk.remote.profiles import Profile
    from ppdesk.remote.ssh import SshTransport
    from ppdesk.remote.ssh_auth import SshPrompts
    from ppdesk.transfer.engine import download
    from ppdesk.transfer.plan import PlannedFile

    profile = Profile(name="child", host="127.0.0.1", port=args["port"], user="root", auth="key",
                      key_file=args["key_file"], root=args["root"])
    store = HostKeyStore(own_path=Path(args["dest"]) / ".known" / "own", user_path=Path(args["dest"]) / ".known" / "user")
    transport = SshTransport(profile, prompts=SshPrompts(confirm_host_key=lambda info: True), host_keys=store)
    stat = os.stat(args["source"])
    planned = PlannedFile(args["source"], "weights.safetensors", stat.st_size, stat.st_mtime, args["sha256"])
    started = time.monotonic()
    with transport:
        report = download(transport, [planned], Path(args["dest"]) / "out", jobs=1)
    seconds = time.monotonic() - started
    outcome = report.outcomes[0]
    result = Path(args["dest"]) / "out" / "weights.safetensors"
    digest = ""
    if result.exists():
        sha = hashlib.sha256()
        with result.open("rb") as handle:
            for chunk in iter(lambda: handle.read(4 << 20), b""):
                sha.update(chunk)
        digest = sha.hexdigest()
    print(json.dumps({
        "status": outcome.status.value, "message": outcome.message, "sha256": digest,
        "vmhwm_kib": _vmhwm_kib(), "seconds": seconds, "rekeys": counter.count,
    }))


if __name__ == "__main__":
    main()
