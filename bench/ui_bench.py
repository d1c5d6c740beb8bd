"""Rows P5, P6 and P8: the validation grid against ImageMagick, GUI lateness, cold start.

P5 runs the grid the way a pod runs it (``python -m ppdesk.core`` with the
request on stdin) and reads each process's peak RSS from wait4. P6 and P8
run Qt on the offscreen platform.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import benv

STEPS = [100 * (index + 1) for index in range(10)]
PROMPTS = ["portrait", "full_body", "street", "forest", "studio", "night"]
CELL = (832, 1216)
MIB = 1024 * 1024


def make_grid_workspace(root: Path, extension: str) -> Tuple[Path, List[Path]]:
    """Write a workspace with config ``vg`` and 10 steps x 6 prompts of 832x1216 samples; return (root, samples)."""
    from PIL import Image, ImageDraw

    output = root / "SimpleTuner" / "output" / "vg" / "validation_images"
    config = root / "SimpleTuner" / "config" / "vg"
    samples = [output / f"step_{step}_{prompt}_{CELL[0]}x{CELL[1]}.{extension}" for step in STEPS for prompt in PROMPTS]
    if all(path.exists() for path in samples):
        return root, samples
    shutil.rmtree(root, ignore_errors=True)
    output.mkdir(parents=True)
    config.mkdir(parents=True)
    (config / "config.json").write_text(json.dumps({"model_family": "flux", "output_dir": "output/vg"}))
    noise = Image.effect_noise(CELL, 40).convert("RGB")
    for index, path in enumerate(samples):
        image = Image.new("RGB", CELL, ((index * 37) % 256, (index * 91) % 256, (index * 53) % 256))
        image = Image.blend(image, noise, 0.3)
        ImageDraw.Draw(image).ellipse((100, 200, 700, 1000), outline=(255, 255, 255), width=12)
        image.save(path, quality=92) if extension == "jpg" else image.save(path)
    return root, samples


def run_measured(command: List[str], stdin: bytes = b"", env: Dict[str, str] = None) -> Tuple[float, float, bytes]:
    """Run ``command``; return (wall seconds, peak RSS in MB, stdout). Raises when it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(stdin)
    process.stdin.close()
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"{command[0]} failed with status {status}: {process.stderr.read()[-2000:]!r}")
    return seconds, usage.ru_maxrss / 1024, out


def p5(args) -> Dict[str, object]:
    """P5: the validation grid (PNG and JPEG samples) against montage with labels at the same cell size."""
    results: Dict[str, object] = {"row": "P5", "target": ">= 2 x faster than montage, peak memory <= 300 MB"}
    for extension in ("png", "jpg"):
        root, samples = make_grid_workspace(args.work / f"grid-{extension}", extension)
        request = json.dumps({"op": "validation_grid", "layout": {"root": str(root)}, "args": {"config": "vg"}}).encode()
        ppdesk_env = dict(os.environ, PYTHONPATH=str(benv.REPO))
        montage_out = root / "montage.jpg"
        montage = ["montage", "-label", "%t"] + [str(path) for path in samples] + [
            "-tile", f"{len(PROMPTS)}x{len(STEPS)}", "-geometry", f"{CELL[0]}x{CELL[1]}+4+4", "-quality", "90",
            str(montage_out)]
        montage_env = dict(os.environ, MAGICK_CONFIGURE_PATH=str(write_magick_policy(args.work)))
        times: Dict[str, List[float]] = {"ppdesk": [], "montage": []}
        memory: Dict[str, List[float]] = {"ppdesk": [], "montage": []}
        for repeat in range(args.repeats):
            order = ["ppdesk", "montage"] if repeat % 2 == 0 else ["montage", "ppdesk"]
            for name in order:
                if name == "ppdesk":
                    seconds, peak, out = run_measured([sys.executable, "-m", "ppdesk.core"], request, ppdesk_env)
                    final = json.loads(out.splitlines()[-1])
                    if final.get("type") != "result" or final["data"]["cells"] != len(samples):
                        raise RuntimeError(f"the ppdesk grid failed: {final}")
                else:
                    seconds, peak, _ = run_measured(montage, env=montage_env)
                times[name].append(seconds)
                memory[name].append(peak)
                print(f"  {extension} {name}: {seconds:.2f} s, peak RSS {peak:.0f} MB", flush=True)
        medians = {name: benv.median(values) for name, values in times.items()}
        results[extension] = {
            "medians_s": medians,
            "peak_rss_mb": {name: max(values) for name, values in memory.items()},
            "ratio montage/ppdesk": medians["montage"] / medians["ppdesk"],
            "runs_s": times,
        }
    print(json.dumps(results, indent=2), flush=True)
    return results


def write_magick_policy(work: Path) -> Path:
    """Write an ImageMagick policy folder with limits that fit a 60-cell montage; return the folder.

    Debian's policy caps the pixel cache at 256 MiB of memory and 1 GiB of
    disk, and montage then fails with "cache resources exhausted" at this size.
    """
    folder = work / "magick-policy"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.xml").write_text(
        "<policymap>\n"
        '  <policy domain="resource" name="memory" value="4GiB"/>\n'
        '  <policy domain="resource" name="map" value="8GiB"/>\n'
        '  <policy domain="resource" name="disk" value="16GiB"/>\n'
        '  <policy domain="resource" name="area" value="1GP"/>\n'
        "</policymap>\n"
    )
    return folder


def p6(args) -> Dict[str, object]:
    """P6: lateness of a 10 ms QTimer on the GUI thread during a download and a grid build in workers."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import transfer_bench as tb

    env = benv.open_env(args.work)
    try:
        source = tb.make_file(env.work / "pod" / "weights-1024M.safetensors", 1024 * MIB)
        files = [tb.planned(source, source.name, with_hash=True)]
        grid_root, _ = make_grid_workspace(args.work / "grid-png", "png")
        result = _measure_gui(env, files, grid_root, args)
    finally:
        env.close()
    print(json.dumps(result, indent=2), flush=True)
    return result


def _measure_gui(env: "benv.BenchEnv", files, grid_root: Path, args) -> Dict[str, object]:
    from PySide6.QtCore import QElapsedTimer, QTimer

    from ppdesk.core.grids.validation import op_validation_grid
    from ppdesk.core.layout import WorkspaceLayout
    from ppdesk.core.protocol import Emitter
    from ppdesk.gui.app import ensure_application
    from ppdesk.gui.main_window import MainWindow
    from ppdesk.gui.workers import WorkerPool
    from ppdesk.remote.profiles import ProfileStore
    from ppdesk.transfer.engine import download

    app = ensure_application()
    window = MainWindow(profiles=ProfileStore(path=env.work / "profiles.json"))
    window.show()
    dest = env.work / "dest"
    shutil.rmtree(dest, ignore_errors=True)

    def download_job(token, report):
        transport = env.transport(env.server.port, str(env.work / "pod"))
        try:
            return download(transport, files, dest, jobs=1, on_progress=report, cancel=token).summary()
        finally:
            transport.close()

    def grid_job(token, report):
        # The local grid fallback composes in this process, the worst case for the GUI thread.
        layout = WorkspaceLayout.from_root(str(grid_root))
        sink = open(os.devnull, "w")
        try:
            return op_validation_grid(layout, {"config": "vg"}, Emitter(sink))["cells"]
        finally:
            sink.close()

    pool = WorkerPool(max_threads=4)
    progress_events = [0]
    lateness: List[float] = []
    clock = QElapsedTimer()
    interval_ms = 10
    timer = QTimer()
    timer.setInterval(interval_ms)

    def tick() -> None:
        elapsed = clock.nsecsElapsed() / 1e6
        clock.restart()
        lateness.append(max(0.0, elapsed - interval_ms))

    timer.timeout.connect(tick)
    workers = [pool.start(download_job, "download"), pool.start(grid_job, "grid")]
    for worker in workers:
        worker.signals.progress.connect(lambda event: progress_events.__setitem__(0, progress_events[0] + 1))
    clock.start()
    timer.start()
    started = time.perf_counter()
    while not all(worker.done.is_set() for worker in workers):
        app.processEvents()  # the benchmark's own event loop; the app uses exec()
        time.sleep(0.001)
    seconds = time.perf_counter() - started
    timer.stop()
    app.processEvents()
    errors = [worker.exception for worker in workers if worker.exception is not None]
    window.close()
    shutil.rmtree(dest, ignore_errors=True)
    if errors:
        raise RuntimeError(f"a P6 job failed: {errors}")
    ordered = sorted(lateness)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    return {"row": "P6", "target": "99th percentile lateness <= 50 ms", "ticks": len(ordered),
            "p50_ms": ordered[len(ordered) // 2], "p99_ms": p99, "max_ms": ordered[-1], "seconds": seconds,
            "progress_events": progress_events[0]}


def p8(args) -> Dict[str, object]:
    """P8: wall time from process start to a shown main window, through ``python -m ppdesk`` (offscreen).

    The child wraps MainWindow.show so that, once the event loop runs after
    the first show, it prints the time since ``started`` and quits.
    """
    code = (
        "import sys, time\n"
        "started = float(sys.argv[1])\n"
        "sys.argv = ['ppdesk']\n"
        "import runpy\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "import ppdesk.gui.main_window as main_window\n"
        "original_show = main_window.MainWindow.show\n"
        "def show(window):\n"
        "    original_show(window)\n"
        "    def report():\n"
        "        print(time.time() - started, window.isVisible(), flush=True)\n"
        "        QApplication.instance().quit()\n"
        "    QTimer.singleShot(0, report)\n"
        "main_window.MainWindow.show = show\n"
        "runpy.run_module('ppdesk', run_name='__main__')\n"
    )
    config_home = args.work / "p8-config"
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"), PYTHONPATH=str(benv.REPO),
               XDG_CONFIG_HOME=str(config_home), XDG_DATA_HOME=str(config_home), XDG_STATE_HOME=str(config_home))
    times: List[float] = []
    for _ in range(max(args.repeats, 5)):
        started = time.time()
        done = subprocess.run([sys.executable, "-c", code, repr(started)], capture_output=True, text=True, env=env)
        out = done.stdout.split()
        if len(out) < 2 or out[1] != "True":
            raise RuntimeError(f"the main window was not shown: {done.stdout!r} {done.stderr[-2000:]!r}")
        times.append(float(out[0]))
        print(f"  start to visible window: {times[-1]:.3f} s", flush=True)
    result = {"row": "P8", "target": "<= 1.5 s", "median_s": benv.median(times), "runs_s": times}
    print(json.dumps(result, indent=2), flush=True)
    return result
