"""Many key exchanges during a 1 GiB download and a long grid build; client memory stays bounded.

The download runs in a child process (download_child.py), which reports its
own peak resident memory (VmHWM) so that the test process's memory does not
count. The download's server rekeys after every 32 MiB and at least once a
second. The grid build's server rekeys after every 256 KiB, so that its count
does not depend on the machine's speed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from faults.conftest import sha256_of

REPO = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("download_child.py")
# Peak client memory allowed for a 1 GiB download, in KiB. A fetch that
# buffered the whole file would need more than 1 GiB.
MEMORY_LIMIT_KIB = 384 * 1024
# Seconds before the child is called hung; a 1 GiB copy over loopback takes well under this.
CHILD_LIMIT = 900


@pytest.mark.ssh
@pytest.mark.slow
def test_rekeyed_download_bounded_memory(big_file, rekey_sshd, fault_keys, tmp_path, record_property):
    args = {"port": rekey_sshd.port, "key_file": str(fault_keys["ed25519"]), "root": str(tmp_path / "ws"),
            "source": str(big_file.path), "sha256": big_file.sha256, "dest": str(tmp_path / "dest")}
    done = subprocess.run([sys.executable, str(CHILD), json.dumps(args)], capture_output=True, text=True,
                          timeout=CHILD_LIMIT, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.splitlines()[-1])
    throughput = big_file.size / result["seconds"] / 1e6
    record_property("download_mb_per_s", round(throughput, 1))
    record_property("peak_rss_kib", result["vmhwm_kib"])
    record_property("rekeys", result["rekeys"])
    logging.getLogger(__name__).info("1 GiB rekeyed download: %.1f MB/s, VmHWM %d KiB, %d rekeys",
                                     throughput, result["vmhwm_kib"], result["rekeys"])

    assert result["status"] == "downloaded", result["message"]
    assert result["sha256"] == big_file.sha256
    # One rekey per 32 MiB makes about 32 exchanges for 1 GiB, so half of that is a safe floor.
    assert result["rekeys"] >= 16
    assert 0 < result["vmhwm_kib"] < MEMORY_LIMIT_KIB


@pytest.mark.ssh
@pytest.mark.slow
def test_grid_build_across_rekeys(make_transport, data_rekey_sshd, fixtures_dir, tmp_path, caplog):
    from ppdesk.cancel import CancelToken
    from ppdesk.demo import build_demo_workspace
    from ppdesk.tools.base import Status, ToolContext
    from ppdesk.tools.validation_grid import ValidationGrid
    from ppdesk.tools.workspace import scan_workspace

    root = build_demo_workspace(tmp_path / "ws")
    transport = make_transport(root, server=data_rekey_sshd)
    config = next(c for c in scan_workspace(transport, CancelToken()).configs if c.validation_samples)
    samples = Path(config.output) / "validation_images"
    photo = max((fixtures_dir / "images" / "photos").iterdir(), key=lambda path: path.stat().st_size)
    for step in range(5000, 5000 + 60 * 50, 50):
        shutil.copy(photo, samples / f"step_{step}_portrait_1024x1024{photo.suffix}")
    caplog.set_level(logging.DEBUG, logger="paramiko.transport")

    result = ValidationGrid().run(ToolContext(transport=transport, dest=tmp_path / "dest"), config)

    assert result.status in (Status.OK, Status.WARNING), result.message
    rekeys = [record for record in caplog.records if "Switch to new keys" in record.getMessage()]
    # The grid alone is megabytes, so a 256 KiB limit forces several exchanges whatever the machine's speed.
    local = Path(result.local_files[0])
    assert len(rekeys) >= 2, f"{len(rekeys)} rekeys for a {local.stat().st_size} byte grid"
    pod = Path(result.details["grid"])
    assert sha256_of(local) == sha256_of(pod)
