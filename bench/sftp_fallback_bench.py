"""Rows p2-sftp and p2-sftp-0ms: the P2 download over the SFTP fallback, with its peak memory.

The profile names an interpreter that does not exist, so the agent cannot
run and SshTransport reads the file over SFTP. Each ppdesk run is a child
process, so that its peak RSS can be read from ``wait4``. The child times
itself from connecting to the verified final file, which leaves Python's
start-up out as in P2. The "2 MiB window" contender replaces the window
sizing with paramiko's default window, which every SFTP channel had before
the windows were sized from the round trip. It alternates with the sized
one and with OpenSSH ``sftp get`` in one run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import benv
import transfer_bench as tb

SIZE = 256 * tb.MIB
# An interpreter path that exists on no pod, so the agent never runs.
NO_PYTHON = "/nonexistent/ppdesk-bench/python3"
CHILD_FLAG = "_sftp_fallback_child"


def run(env: benv.BenchEnv, args, delay_ms: float, row: str) -> Dict[str, object]:
    """Download SIZE bytes with sha256 over the fallback at ``delay_ms`` per direction; report times and peak RSS."""
    source = tb.make_file(env.work / "pod" / f"weights-{SIZE // tb.MIB}M.safetensors", SIZE)
    sha256 = tb.planned(source, source.name, with_hash=True).sha256
    port = env.port_with_delay(delay_ms, args.proxy)
    dest = env.work / "dest"
    contenders = ["ppdesk sftp", "ppdesk sftp, 2 MiB window", "sftp"]
    times: Dict[str, List[float]] = {name: [] for name in contenders}
    peaks: Dict[str, List[float]] = {name: [] for name in contenders[:2]}

    for repeat in range(args.repeats):
        order = contenders if repeat % 2 == 0 else list(reversed(contenders))
        for name in order:
            tb.clean(dest)
            dest.mkdir(parents=True)
            if name == "sftp":
                seconds = benv.timed(lambda: subprocess.run(
                    env.sftp_command(port), input=f"get {source} {dest / source.name}\n".encode(),
                    check=True, stdout=subprocess.DEVNULL))
            else:
                window = "default" if name.endswith("2 MiB window") else "sized"
                seconds, peak_mb = _run_child(env, port, source, sha256, dest, window)
                peaks[name].append(peak_mb)
            times[name].append(seconds)
            print(f"  {name}: {seconds:.3f} s", flush=True)
    tb.clean(dest)

    result = tb.report(row, "(SFTP fallback; no target)", times, SIZE)
    result["peak_rss_mb"] = {name: max(values) for name, values in peaks.items()}
    print(json.dumps({"peak_rss_mb": result["peak_rss_mb"]}), flush=True)
    return result


def _run_child(env: benv.BenchEnv, port: int, source: Path, sha256: str, dest: Path, window: str):
    """Run one download in a child process; return (its own timing in seconds, its peak RSS in MB)."""
    command = [sys.executable, __file__, CHILD_FLAG, str(env.work), str(port), str(source), sha256, str(dest),
               str(env.key), window]
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise RuntimeError(f"the SFTP fallback child failed with status {status}")
    return float(json.loads(output)["seconds"]), usage.ru_maxrss / 1024


def _child(argv: List[str]) -> None:
    work, port, source, sha256, dest, key, window = argv
    from ppdesk.remote import ssh
    from ppdesk.transfer.engine import download
    from ppdesk.transfer.plan import PlannedFile

    if window == "default":
        import paramiko

        ssh.window_for_round_trip = lambda seconds: paramiko.common.DEFAULT_WINDOW_SIZE
    env = benv.BenchEnv(work=Path(work), server=None, key=Path(key), ssh_config=Path(work) / "ssh_config",  # type: ignore[arg-type]
                        known_hosts=Path(work) / "known_hosts")
    info = os.stat(source)
    files = [PlannedFile(source, Path(source).name, info.st_size, info.st_mtime, sha256)]
    started = time.perf_counter()
    transport = env.transport(int(port), str(Path(source).parent), python=NO_PYTHON)
    try:
        report = download(transport, files, Path(dest), jobs=1)
        fell_back = transport._streams_disabled
    finally:
        transport.close()
    seconds = time.perf_counter() - started
    if not report.ok:
        raise SystemExit(f"download failed: {report.summary()}")
    if not fell_back:
        raise SystemExit("the download did not use the SFTP fallback")
    print(json.dumps({"seconds": seconds}))


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == CHILD_FLAG:
    _child(sys.argv[2:])
