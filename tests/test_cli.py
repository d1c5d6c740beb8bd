"""The ppdesk command line, run as a real subprocess (``python -m ppdesk``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ppdesk import __version__
from ppdesk.demo import build_demo_workspace

REPO = Path(__file__).resolve().parents[1]


def run_ppdesk(*args: str, home: Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m ppdesk`` with user folders redirected below ``home``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["XDG_CACHE_HOME"] = str(home / "cache")
    env["XDG_STATE_HOME"] = str(home / "state")
    env["XDG_CONFIG_HOME"] = str(home / "config")
    return subprocess.run(
        [sys.executable, "-m", "ppdesk", *args], capture_output=True, text=True, env=env, cwd=cwd or home, timeout=300
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_workspace(tmp_path_factory.mktemp("cli") / "ws")


def test_version(tmp_path: Path):
    completed = run_ppdesk("--version", home=tmp_path)
    assert completed.returncode == 0
    assert completed.stdout.strip() == f"ppdesk {__version__}"


def test_scan_json_shape(workspace: Path, tmp_path: Path):
    completed = run_ppdesk("scan", "--workspace", str(workspace), "--json", home=tmp_path)
    assert completed.returncode == 0, completed.stderr
    configs = json.loads(completed.stdout)
    assert isinstance(configs, list)
    by_name = {entry["name"]: entry for entry in configs}
    assert len(by_name) == 6
    for entry in configs:
        for key in ("name", "family", "newest_checkpoint", "validation_samples", "output", "errors"):
            assert key in entry
    assert by_name["sofia_002_lr5e-5"]["newest_checkpoint"] == 500
    assert by_name["sofia_001_lr1e-4"]["validation_samples"] == 12


def test_scan_table(workspace: Path, tmp_path: Path):
    completed = run_ppdesk("scan", "--workspace", str(workspace), home=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "sofia_010_rank32" in completed.stdout
    assert "max_002_env" in completed.stdout


def test_log_file_written(workspace: Path, tmp_path: Path):
    run_ppdesk("scan", "--workspace", str(workspace), "--json", home=tmp_path)
    logs = list((tmp_path / "state").rglob("ppdesk.log"))
    assert len(logs) == 1


def test_unknown_family_exit_2(workspace: Path, tmp_path: Path):
    completed = run_ppdesk("lm", "--workspace", str(workspace), "--family", "sofa", home=tmp_path)
    assert completed.returncode == 2
    assert "unknown family 'sofa'" in completed.stderr
    assert "sofia" in completed.stderr
    assert "max" in completed.stderr


def test_unknown_config_exit_2(workspace: Path, tmp_path: Path):
    completed = run_ppdesk("dc", "--workspace", str(workspace), "--config", "sofia_999", "--json", home=tmp_path)
    assert completed.returncode == 2
    assert "unknown config 'sofia_999'" in completed.stderr
    assert completed.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["pp", "--family", "sofia"],
        ["pp", "--demo"],
        ["pp", "--demo", "--family", "sofia", "--config", "sofia_001_lr1e-4"],
        ["pp", "--demo", "--family", "sofia", "--jobs", "0"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(args: list[str], tmp_path: Path):
    completed = run_ppdesk(*args, home=tmp_path)
    assert completed.returncode == 2
    assert "error" in completed.stderr


def test_missing_workspace_exit_2(tmp_path: Path):
    completed = run_ppdesk("scan", "--workspace", str(tmp_path / "nope"), home=tmp_path)
    assert completed.returncode == 2
    assert "workspace folder not found" in completed.stderr


def test_demo_workspace_command(tmp_path: Path):
    target = tmp_path / "new"
    completed = run_ppdesk("demo-workspace", str(target), home=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert (target / "SimpleTuner" / "config" / "sofia_001_lr1e-4" / "config.json").is_file()


def test_demo_workspace_rejects_non_empty(tmp_path: Path):
    target = tmp_path / "full"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    completed = run_ppdesk("demo-workspace", str(target), home=tmp_path)
    assert completed.returncode == 2
    assert "not an empty folder" in completed.stderr
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_demo_target_uses_user_cache(tmp_path: Path):
    completed = run_ppdesk("scan", "--demo", "--json", home=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "cache" / "ppdesk" / "demo-workspace" / "SimpleTuner").is_dir()
    assert {entry["family"] for entry in json.loads(completed.stdout)} >= {"sofia", "max"}


def test_tool_json_shape(tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    completed = run_ppdesk("lm", "--workspace", str(root), "--family", "max", "--json", home=tmp_path)
    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout)
    assert [(r["tool"], r["config"], r["status"]) for r in results] == [
        ("lm", "max_001_base", "ok"),
        ("lm", "max_002_env", "ok"),
    ]
    for result in results:
        assert set(result) >= {"tool", "config", "status", "message", "files", "remote_files", "duration", "details"}
    assert len(results[0]["remote_files"]) == 2


def test_failed_tool_exit_1(tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    loras = root / "ComfyUI" / "models" / "loras"
    loras.rmdir()
    loras.write_text("a file where the loras folder should be")
    completed = run_ppdesk("lm", "--workspace", str(root), "--config", "max_001_base", "--json", home=tmp_path)
    assert completed.returncode == 1
    [result] = json.loads(completed.stdout)
    assert result["status"] == "failed"
    assert loras.read_text() == "a file where the loras folder should be"


def test_table_output(tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    completed = run_ppdesk("lm", "--workspace", str(root), "--config", "max_002_env", home=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "max_002_env" in completed.stdout
    assert "1 file copied" in completed.stdout


def test_demo_target_has_datasets(tmp_path: Path):
    completed = run_ppdesk("scan", "--demo", "--json", home=tmp_path)
    assert completed.returncode == 0, completed.stderr
    for entry in json.loads(completed.stdout):
        assert len(entry["datasets"]) == 1, entry["skipped_datasets"]


def test_dest_that_is_a_file_is_usage_error(tmp_path):
    workspace = build_demo_workspace(tmp_path / "workspace")
    dest = tmp_path / "dest-file"
    dest.write_text("not a folder")
    completed = run_ppdesk("pp", "--workspace", str(workspace), "--family", "sofia", "--dest", str(dest), home=tmp_path)
    assert completed.returncode == 2
    assert f"destination is a file, not a folder: {dest}" in completed.stderr
    assert dest.read_text() == "not a folder"
    assert not list((workspace / "SimpleTuner" / "config").rglob("*-grid.jpg"))


def test_config_with_trailing_slash_is_found(tmp_path):
    workspace = build_demo_workspace(tmp_path / "workspace")
    completed = run_ppdesk("dc", "--workspace", str(workspace), "--config", "sofia_001_lr1e-4/",
                           "--dest", str(tmp_path / "out"), "--json", home=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert [result["config"] for result in json.loads(completed.stdout)] == ["sofia_001_lr1e-4"]


def test_workspace_that_is_a_file_is_named(tmp_path):
    path = tmp_path / "afile"
    path.write_text("x")
    completed = run_ppdesk("scan", "--workspace", str(path), home=tmp_path)
    assert completed.returncode == 2
    assert f"workspace is a file, not a folder: {path}" in completed.stderr


def test_demo_workspace_unwritable_folder_named(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    target = blocker / "demo"
    completed = run_ppdesk("demo-workspace", str(target), home=tmp_path)
    assert completed.returncode == 1
    assert f"cannot write the demo workspace to {target}" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_gui_without_display_explains(tmp_path):
    env_home = tmp_path
    env = dict(os.environ)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(name, None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["XDG_CACHE_HOME"] = str(env_home / "cache")
    env["XDG_STATE_HOME"] = str(env_home / "state")
    env["XDG_CONFIG_HOME"] = str(env_home / "config")
    completed = subprocess.run([sys.executable, "-m", "ppdesk"], capture_output=True, text=True, env=env,
                               cwd=tmp_path, timeout=120)
    assert completed.returncode == 1
    assert "no display found" in completed.stderr
    assert "ppdesk pp --demo" in completed.stderr


def run_help(command: str, home: Path) -> str:
    completed = run_ppdesk(command, "--help", home=home)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


@pytest.mark.parametrize(
    "command, present, absent",
    [
        ("pp", ["--dest", "--jobs", "--include-base", "--keep-composite", "--limit"], []),
        ("lm", [], ["--dest", "--jobs", "--include-base", "--keep-composite", "--limit"]),
        ("vg", ["--dest", "--jobs", "--include-base", "--keep-composite"], ["--limit"]),
        ("dg", ["--dest", "--jobs", "--limit"], ["--include-base", "--keep-composite"]),
        ("dc", ["--dest", "--jobs"], ["--include-base", "--keep-composite", "--limit"]),
        ("do", ["--dest", "--jobs"], ["--include-base", "--keep-composite", "--limit"]),
    ],
)
def test_tool_command_lists_own_options(command: str, present: list[str], absent: list[str], tmp_path: Path):
    text = run_help(command, tmp_path)
    for option in present:
        assert option in text, option
    for option in absent:
        assert option not in text, option


def test_lm_rejects_dest(workspace: Path, tmp_path: Path):
    completed = run_ppdesk("lm", "--workspace", str(workspace), "--family", "max", "--dest", "out", home=tmp_path)
    assert completed.returncode == 2
    assert "unrecognized arguments: --dest out" in completed.stderr


def test_scan_help_has_description(tmp_path: Path):
    text = run_help("scan", tmp_path)
    assert "List the workspace's configs, checkpoints and samples." in text


def test_vg_help_says_step_0_left_out(tmp_path: Path):
    text = " ".join(run_help("vg", tmp_path).split())
    assert "step-0 (base model) samples are left out unless --include-base is given" in text
    assert "without it step 0 is left out" in text


def _add_step_0_samples(root: Path, config: str) -> list[str]:
    """Copy the step-100 samples of ``config`` to step-0 names; return the new names."""
    folder = root / "SimpleTuner" / "output" / config / "validation_images"
    names = []
    for sample in sorted(folder.glob("step_100_*")):
        name = sample.name.replace("step_100_", "step_0_", 1)
        (folder / name).write_bytes(sample.read_bytes())
        names.append(name)
    return names


def test_vg_names_left_out_step_0(tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    assert len(_add_step_0_samples(root, "sofia_001_lr1e-4")) == 3
    completed = run_ppdesk("vg", "--workspace", str(root), "--config", "sofia_001_lr1e-4",
                           "--dest", str(tmp_path / "out"), "--json", home=tmp_path)
    assert completed.returncode == 0, completed.stderr
    [result] = json.loads(completed.stdout)
    assert result["status"] == "ok"
    assert result["message"].endswith("; 3 step-0 (base model) samples left out; --include-base adds them")
    assert result["details"]["base_samples_left_out"] == 3


def test_vg_include_base_keeps_step_0(tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    _add_step_0_samples(root, "sofia_001_lr1e-4")
    completed = run_ppdesk("vg", "--workspace", str(root), "--config", "sofia_001_lr1e-4", "--include-base",
                           "--dest", str(tmp_path / "out"), "--json", home=tmp_path)
    assert completed.returncode == 0, completed.stderr
    [result] = json.loads(completed.stdout)
    assert "left out" not in result["message"]
    assert result["details"]["base_samples_left_out"] == 0
    sidecar = Path(result["details"]["sidecar"])
    assert 0 in json.loads(sidecar.read_text())["rows"]


def test_missing_config_folder_names_workspace_option(tmp_path: Path):
    empty = tmp_path / "not-a-workspace"
    empty.mkdir()
    completed = run_ppdesk("scan", "--workspace", str(empty), home=tmp_path)
    assert completed.returncode == 1
    expected = (f"ppdesk: config folder not found: {empty}/SimpleTuner/config; "
                f"pass the folder that contains SimpleTuner/ with --workspace DIR")
    assert expected in completed.stderr

    completed = run_ppdesk("pp", "--workspace", str(empty), "--family", "sofia",
                           "--dest", str(tmp_path / "out"), home=tmp_path)
    assert completed.returncode == 2
    assert expected in completed.stderr
    assert "unknown family 'sofia'" in completed.stderr


def test_pp_names_unreadable_config(tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    folder = root / "SimpleTuner" / "config" / "max_002_env"
    (folder / "config.env").unlink()
    (folder / "config.json").write_text('{"output_dir": "output/max_002_env",', encoding="utf-8")
    shutil.rmtree(root / "SimpleTuner" / "output" / "max_002_env")

    completed = run_ppdesk("pp", "--workspace", str(root), "--config", "max_002_env",
                           "--dest", str(tmp_path / "out"), "--json", home=tmp_path)
    assert completed.returncode == 0, completed.stderr
    by_tool = {result["tool"]: result for result in json.loads(completed.stdout)}
    for key in ("lm", "vg", "do"):
        message = by_tool[key]["message"]
        assert by_tool[key]["status"] == "skipped"
        assert message.startswith(f"config could not be read: {folder / 'config.json'} is not valid JSON: "), message
        assert "no output folder" not in message


def test_ctrl_c_during_pp_lists_cancelled_rows(tmp_path: Path):
    root = build_demo_workspace(tmp_path / "ws")
    big = root / "SimpleTuner" / "output" / "max_001_base" / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(300_000_000)
    dest = tmp_path / "out"
    part = dest / "max_001_base" / "output" / "big.bin.part"

    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    for name in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME"):
        env[name] = str(tmp_path / name.lower())
    # A session of its own, so that the SIGINT reaches ppdesk and its agent
    # processes as Ctrl-C in a terminal does, and not this test run.
    process = subprocess.Popen(
        [sys.executable, "-m", "ppdesk", "pp", "--workspace", str(root), "--family", "max", "--dest", str(dest), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path, start_new_session=True,
    )
    try:
        while not part.exists() and process.poll() is None:
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 130, stderr
    assert not (part.parent / "big.bin").exists()
    rows = [(r["tool"], r["config"], r["status"], r["message"]) for r in json.loads(stdout)]
    assert [row[:3] for row in rows] == [
        ("lm", "max_001_base", "ok"),
        ("vg", "max_001_base", "ok"),
        ("dg", "max_001_base", "ok"),
        ("dc", "max_001_base", "ok"),
        ("do", "max_001_base", "cancelled"),
    ] + [(key, "max_002_env", "cancelled") for key in ("lm", "vg", "dg", "dc", "do")]
    assert rows[4][3] == "cancelled while running; run it again to finish"
    assert {row[3] for row in rows[5:]} == {"cancelled before it started"}
    assert "interrupted; cancelling the running tool" in stderr


def test_unknown_family_creates_no_dest(workspace: Path, tmp_path: Path):
    dest = tmp_path / "new-dest"
    completed = run_ppdesk("pp", "--workspace", str(workspace), "--family", "nosuchfamily", "--dest", str(dest),
                           home=tmp_path)
    assert completed.returncode == 2
    assert "nosuchfamily" in completed.stderr
    assert not dest.exists()


def test_dest_below_a_file_is_usage_error(workspace: Path, tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    dest = blocker / "out"
    completed = run_ppdesk("dc", "--workspace", str(workspace), "--family", "sofia", "--dest", str(dest), home=tmp_path)
    assert completed.returncode == 2
    assert f"cannot create the destination {dest}, because {blocker} is a file" in completed.stderr
    assert blocker.read_text() == "not a folder"


def test_demo_workspace_on_a_file(tmp_path: Path):
    target = tmp_path / "a-file"
    target.write_text("keep me")
    completed = run_ppdesk("demo-workspace", str(target), home=tmp_path)
    assert completed.returncode == 2
    assert f"{target} is a file; pass a new or empty folder" in completed.stderr
    assert target.read_text() == "keep me"


def test_scan_bad_root_prints_no_table(tmp_path: Path):
    empty = tmp_path / "no-simpletuner"
    empty.mkdir()
    completed = run_ppdesk("scan", "--workspace", str(empty), home=tmp_path)
    assert completed.returncode == 1
    assert "config folder not found" in completed.stderr
    assert completed.stdout.strip() == ""
