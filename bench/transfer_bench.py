"""Rows P1-P4 and P7: downloads and the workspace scan against a loopback sshd.

Each row runs ppdesk and its peer against the same sshd and the same files,
alternating, and prints the medians and the ratio.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import benv

MIB = 1024 * 1024
FIXTURE_CONFIG = Path("/work/shared/fixtures/simpletuner/flux.peft-lora/config.json")


def make_file(path: Path, size: int, sparse: bool = False) -> Path:
    """Write ``size`` random bytes to ``path`` unless it has that size already (sparse: zeros, no disk use)."""
    if path.exists() and path.stat().st_size == size:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    if sparse:
        with open(path, "wb") as handle:
            handle.truncate(size)
        return path
    with open(path, "wb") as handle:
        remaining = size
        while remaining:
            block = os.urandom(min(remaining, 16 * MIB))
            handle.write(block)
            remaining -= len(block)
    return path


def planned(path: Path, rel: str, with_hash: bool):
    from ppdesk.transfer.plan import PlannedFile
    from ppdesk.transfer.verify import sha256_file

    info = path.stat()
    return PlannedFile(str(path), rel, info.st_size, info.st_mtime, sha256_file(path) if with_hash else None)


def ppdesk_download(env: benv.BenchEnv, port: int, files: List, dest: Path, jobs: int) -> None:
    """Connect, download ``files`` with the engine, close; raise when a file failed."""
    from ppdesk.transfer.engine import download

    transport = env.transport(port, str(env.work / "pod"))
    try:
        report = download(transport, files, dest, jobs=jobs)
    finally:
        transport.close()
    if not report.ok:
        raise RuntimeError(f"ppdesk download failed: {report.summary()}: {[o.message for o in report.failed][:3]}")


def clean(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def report(row: str, target: str, times: Dict[str, List[float]], size_bytes: int = 0) -> Dict[str, object]:
    medians = {name: benv.median(values) for name, values in times.items()}
    result: Dict[str, object] = {"row": row, "target": target, "medians_s": medians, "runs_s": times}
    if size_bytes:
        result["mb_per_s"] = {name: size_bytes / seconds / 1e6 for name, seconds in medians.items()}
    if "ppdesk" in medians:
        result["ratios"] = {f"{name}/ppdesk": medians[name] / medians["ppdesk"] for name in medians if name != "ppdesk"}
    print(json.dumps(result, indent=2), flush=True)
    return result


def single_file(env: benv.BenchEnv, args, size: int, delay_ms: float, row: str, target: str) -> Dict[str, object]:
    """P1 and P2: one weight file, sha256-verified by ppdesk, against ``sftp get``."""
    source = make_file(env.work / "pod" / f"weights-{size // MIB}M.safetensors", size)
    files = [planned(source, source.name, with_hash=True)]
    port = env.port_with_delay(delay_ms, args.proxy)
    dest = env.work / "dest"

    runs = {
        "ppdesk": lambda: ppdesk_download(env, port, files, dest, jobs=1),
        "sftp": lambda: subprocess.run(env.sftp_command(port), input=f"get {source} {dest / source.name}\n".encode(),
                                       check=True, stdout=subprocess.DEVNULL),
    }

    def prepare(name: str) -> None:
        clean(dest)
        dest.mkdir(parents=True)

    times = benv.alternate(runs, args.repeats, prepare)
    clean(dest)
    return report(row, target, times, size)


def many_files(env: benv.BenchEnv, args) -> Dict[str, object]:
    """P3: 300 files of about 1.5 MB at a 50 ms round trip, against sftp -r and rclone --transfers 8."""
    folder = env.work / "pod" / "many"
    sizes = [1_400_000 + (index * 7919) % 200_000 for index in range(300)]
    for index, size in enumerate(sizes):
        make_file(folder / f"sample-{index:03}.png", size)
    files = [planned(folder / f"sample-{index:03}.png", f"many/sample-{index:03}.png", with_hash=False) for index in range(300)]
    total = sum(sizes)
    port = env.port_with_delay(50 / 2, args.proxy)
    dest = env.work / "dest"

    runs = {
        "ppdesk": lambda: ppdesk_download(env, port, files, dest, jobs=args.jobs),
        "sftp -r": lambda: subprocess.run(env.sftp_command(port), input=f"get -r {folder} {dest / 'many'}\n".encode(),
                                          check=True, stdout=subprocess.DEVNULL),
        "rclone": lambda: subprocess.run(["rclone", "copy", "--transfers", "8", f"pod:{folder}", str(dest / "many")],
                                         check=True, env=env.rclone_env(port), stdout=subprocess.DEVNULL),
    }

    def prepare(name: str) -> None:
        clean(dest)
        dest.mkdir(parents=True)

    times = benv.alternate(runs, args.repeats, prepare)
    clean(dest)
    return report("P3", ">= 3 x sftp -r, >= 1 x rclone", times, total)


def make_configs(root: Path, count: int) -> None:
    config_dir = root / "SimpleTuner" / "config"
    if config_dir.exists() and len(list(config_dir.iterdir())) == count:
        return
    clean(config_dir)
    text = FIXTURE_CONFIG.read_text()
    for index in range(count):
        folder = config_dir / f"person{index % 20:02}_{index:03}_lr1e-4"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(text)


def sftp_walk(env: benv.BenchEnv, port: int, root: Path) -> int:
    """List every config folder and stat its config file over one paramiko SFTP client; return the count."""
    transport = env.transport(port, str(root))
    transport.connect()
    try:
        with transport._sftp() as (client, _):  # the transport's own SFTP pool
            started = time.perf_counter()
            config_dir = str(root / "SimpleTuner" / "config")
            found = 0
            for entry in client.listdir_attr(config_dir):
                folder = f"{config_dir}/{entry.filename}"
                for name in client.listdir(folder):
                    if name.startswith("config."):
                        client.stat(f"{folder}/{name}")
                        found += 1
            sftp_walk.seconds = time.perf_counter() - started  # type: ignore[attr-defined]
    finally:
        transport.close()
    return found


def scan(env: benv.BenchEnv, args) -> Dict[str, object]:
    """P4: a workspace scan of 200 configs at a 50 ms round trip, timed after connecting."""
    root = env.work / "scanroot"
    make_configs(root, 200)
    port = env.port_with_delay(50 / 2, args.proxy)
    times: Dict[str, List[float]] = {"ppdesk (first scan on a connection)": [], "ppdesk": [], "sftp walk": []}
    for repeat in range(args.repeats):
        transport = env.transport(port, str(root))
        transport.connect()
        try:
            started = time.perf_counter()
            data = transport.run_agent("scan")
            times["ppdesk (first scan on a connection)"].append(time.perf_counter() - started)
            started = time.perf_counter()
            data = transport.run_agent("scan")
            times["ppdesk"].append(time.perf_counter() - started)
        finally:
            transport.close()
        assert len(data["configs"]) == 200, len(data["configs"])
        found = sftp_walk(env, port, root)
        assert found == 200, found
        times["sftp walk"].append(sftp_walk.seconds)  # type: ignore[attr-defined]
        print({name: values[-1] for name, values in times.items()}, flush=True)
    result = report("P4", "<= 3 round trips (150 ms) after connecting", times)
    result["round_trips"] = {name: benv.median(values) / 0.050 for name, values in times.items()}
    print(json.dumps(result["round_trips"]), flush=True)
    return result


def memory(env: benv.BenchEnv, args) -> Dict[str, object]:
    """P7: peak RSS of a client process that downloads one 5 GB file (sparse source, sha256 verified)."""
    size = 5 * 1000 * MIB
    source = make_file(Path(args.big_dir) / "five-gb.safetensors", size, sparse=True)
    dest = env.work / "dest"
    clean(dest)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, __file__, "_p7child", str(env.work), str(env.server.port), str(source),
                                str(dest), str(env.key)])
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    clean(dest)
    if status != 0:
        raise RuntimeError(f"the P7 child failed with status {status}")
    result = {"row": "P7", "target": "peak RSS <= 250 MB", "peak_rss_mb": usage.ru_maxrss / 1024, "seconds": seconds,
              "mb_per_s": size / seconds / 1e6}
    print(json.dumps(result, indent=2), flush=True)
    return result


def _p7child(argv: List[str]) -> None:
    work, port, source, dest, key = argv
    from ppdesk.transfer.engine import download
    from ppdesk.transfer.plan import PlannedFile

    env = benv.BenchEnv(work=Path(work), server=None, key=Path(key), ssh_config=Path(work) / "ssh_config",  # type: ignore[arg-type]
                        known_hosts=Path(work) / "known_hosts")
    info = os.stat(source)
    digest = hashlib.sha256()
    with open(source, "rb") as handle:
        for block in iter(lambda: handle.read(16 * MIB), b""):
            digest.update(block)
    files = [PlannedFile(source, "five-gb.safetensors", info.st_size, info.st_mtime, digest.hexdigest())]
    transport = env.transport(int(port), work)
    try:
        result = download(transport, files, Path(dest), jobs=1)
    finally:
        transport.close()
    if not result.ok:
        raise SystemExit(f"download failed: {result.summary()}")


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "_p7child":
    _p7child(sys.argv[2:])


def breakdown(env: benv.BenchEnv, args) -> Dict[str, object]:
    """P1 broken down: what the local disk, sha256 and fsync cost each side (1 GiB, loopback).

    ``ppdesk fetch`` is SshTransport.fetch into /dev/null on a connected
    transport, without the engine, hash, fsync or set-up. ``sftp to
    /dev/null`` is the same for OpenSSH. ``ppdesk no hash`` is the engine
    without a planned sha256.
    """
    source = make_file(env.work / "pod" / "weights-1024M.safetensors", 1024 * MIB)
    port = env.server.port
    dest = env.work / "dest"
    plain = [planned(source, source.name, with_hash=False)]
    transport = env.transport(port, str(env.work / "pod"))
    transport.connect()
    transport.run_agent("probe")

    def fetch_only() -> None:
        with open(os.devnull, "wb") as sink:
            transport.fetch(str(source), sink)

    runs = {
        "ppdesk fetch to /dev/null": fetch_only,
        "sftp to /dev/null": lambda: subprocess.run(env.sftp_command(port), input=f"get {source} /dev/null\n".encode(),
                                                    check=True, stdout=subprocess.DEVNULL),
        "ppdesk no hash": lambda: ppdesk_download(env, port, plain, dest, jobs=1),
    }

    def prepare(name: str) -> None:
        clean(dest)
        dest.mkdir(parents=True)

    try:
        times = benv.alternate(runs, args.repeats, prepare)
    finally:
        transport.close()
    clean(dest)
    return report("P1 breakdown", "(diagnostic)", times, source.stat().st_size)
