"""The scan operation over whole workspaces built from real fixture files."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ppdesk.core.protocol import AgentFailure, Emitter
from ppdesk.core.scan import load_config, op_scan

REPO = Path(__file__).resolve().parents[2]

CONFIG_DATA_KEYS = {
    "name", "family", "path", "config_file", "format", "errors", "warnings", "model_family",
    "output", "output_rule", "output_exists", "checkpoints", "incomplete_checkpoints",
    "newest_checkpoint", "final_weights", "validation_samples", "unrecognised_samples",
    "datasets", "skipped_datasets", "prompt_library",
}


def run_scan(layout):
    stream = io.StringIO()
    data = op_scan(layout, {}, Emitter(stream))
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return data, lines


def by_name(data):
    return {config["name"]: config for config in data["configs"]}


@pytest.fixture
def full_workspace(workspace):
    """Seven configs in every supported style (one broken), with outputs, checkpoints and samples."""
    ws = workspace
    ws.add_fixture_config("simpletuner/flux.peft-lora", "examples/flux.peft-lora")
    ws.add_fixture_config("simpletuner/anima.peft-lora", "examples/anima.peft-lora")
    ws.add_fixture_config("simpletuner/kontext.peft-lora", "kontext.peft-lora")
    ws.add_fixture_config("simpletuner/legacy-dashed", "legacy-dashed")
    ws.add_fixture_config("easy-scenario", "sofia_v10")
    ws.add_fixture_config("easy-scenario", "sofia_v2")
    ws.write_config("broken_1", "config.json", '{"output_dir": ')

    flux = ws.make_output("examples/flux.peft-lora")
    ws.add_checkpoint(flux, 900, guard=True)
    ws.add_checkpoint(flux, 1000, guard=True)
    ws.add_checkpoint(flux, 1100)
    ws.add_checkpoint(flux, 1200, suffix="-tmp")
    (flux / "pytorch_lora_weights.safetensors").write_bytes(b"final")
    ws.add_samples(
        flux,
        [
            "step_50_flux_0_1024x1024.png",
            "step_100_character_full_body_1_1024x1024.webp",
            "step_100_flux_512x512.png",
            "step_100_clip_0_512x512.mp4",
            "notes.txt",
            "step_x_flux.png",
        ],
    )

    sofia = ws.make_output("sofia/v10")
    ws.add_checkpoint(sofia, 400)
    ws.add_checkpoint(sofia, 800, weights=())
    return ws


def test_scan_result_shape(full_workspace):
    data, _ = run_scan(full_workspace.layout)

    assert set(data) == {"layout", "errors", "configs", "families"}
    assert data["layout"] == full_workspace.layout.to_dict()
    assert data["errors"] == []
    for config in data["configs"]:
        assert set(config) == CONFIG_DATA_KEYS


def test_scan_lists_configs_in_natural_order(full_workspace):
    data, _ = run_scan(full_workspace.layout)

    assert [config["name"] for config in data["configs"]] == [
        "broken_1",
        "examples/anima.peft-lora",
        "examples/flux.peft-lora",
        "kontext.peft-lora",
        "legacy-dashed",
        "sofia_v2",
        "sofia_v10",
    ]
    assert data["families"] == {
        "anima.peft-lora": ["examples/anima.peft-lora"],
        "broken": ["broken_1"],
        "flux.peft-lora": ["examples/flux.peft-lora"],
        "kontext.peft-lora": ["kontext.peft-lora"],
        "legacy-dashed": ["legacy-dashed"],
        "sofia": ["sofia_v2", "sofia_v10"],
    }
    assert list(data["families"]) == sorted(data["families"])


def test_scan_emits_progress_per_config(full_workspace):
    data, lines = run_scan(full_workspace.layout)

    assert [line["type"] for line in lines] == ["progress"] * 7
    assert [line["done"] for line in lines] == [1, 2, 3, 4, 5, 6, 7]
    assert {line["total"] for line in lines} == {7}
    assert lines[0]["message"] == "scanned broken_1"


def test_scan_flux_output_checkpoints_samples(full_workspace):
    config = by_name(run_scan(full_workspace.layout)[0])["examples/flux.peft-lora"]
    ws = full_workspace
    flux = ws.output_dir / "examples" / "flux.peft-lora"

    assert config["family"] == "flux.peft-lora"
    assert config["path"] == str(ws.config_dir / "examples" / "flux.peft-lora")
    assert config["config_file"] == str(ws.config_dir / "examples" / "flux.peft-lora" / "config.json")
    assert config["format"] == "json"
    assert config["errors"] == []
    assert config["model_family"] == "flux"
    assert config["output"] == str(flux)
    assert config["output_rule"] == "output_dir"
    assert config["output_exists"] is True
    assert config["checkpoints"] == [900, 1000]
    assert config["incomplete_checkpoints"] == [1100]
    assert config["newest_checkpoint"] == 1000
    assert config["final_weights"] == [str(flux / "pytorch_lora_weights.safetensors")]
    assert config["validation_samples"] == 4
    assert config["unrecognised_samples"] == 2
    assert any(warning.startswith("checkpoint-1100 is incomplete: no .guard") for warning in config["warnings"])
    assert any("multidatabackend-small-dreambooth-512px.json" in warning for warning in config["warnings"])
    assert config["datasets"] == []
    assert config["prompt_library"] is None


def test_scan_anima_datasets_and_prompt_library(full_workspace):
    config = by_name(run_scan(full_workspace.layout)[0])["examples/anima.peft-lora"]
    folder = full_workspace.config_dir / "examples" / "anima.peft-lora"

    assert config["model_family"] == "anima"
    assert config["output"] == str(full_workspace.output_dir / "examples" / "anima.peft-lora")
    assert config["output_exists"] is False
    assert config["checkpoints"] == []
    assert config["newest_checkpoint"] is None
    assert config["validation_samples"] == 0
    assert config["datasets"] == []
    assert config["skipped_datasets"] == [
        {"id": "anime-caption-hf", "reason": "type 'huggingface' is not a local folder"},
        {"id": "anima-example-text", "reason": "dataset_type text_embeds holds cached embeddings, not images"},
    ]
    assert config["prompt_library"] == str(folder / "user_prompt_library.json")


def test_scan_kontext_reads_json_not_env(full_workspace):
    config = by_name(run_scan(full_workspace.layout)[0])["kontext.peft-lora"]

    assert config["format"] == "json"
    assert config["config_file"].endswith("kontext.peft-lora/config.json")
    assert config["model_family"] == "flux"
    assert config["output"] == str(full_workspace.output_dir / "examples" / "kontext.peft-lora")


def test_scan_easy_configs(full_workspace):
    configs = by_name(run_scan(full_workspace.layout)[0])
    trained, untrained = configs["sofia_v10"], configs["sofia_v2"]

    assert trained["output"] == str(full_workspace.output_dir / "sofia" / "v10")
    assert trained["output_rule"] == "easy"
    assert trained["output_exists"] is True
    assert trained["checkpoints"] == [400]
    assert trained["incomplete_checkpoints"] == [800]
    assert trained["newest_checkpoint"] == 400
    assert any("output/{project_name}/{naming_preset}" in warning for warning in trained["warnings"])
    assert any(warning.startswith("checkpoint-800 is incomplete: no weight file") for warning in trained["warnings"])

    assert untrained["output"] is None
    assert untrained["output_rule"] is None
    assert untrained["output_exists"] is False


def test_scan_legacy_dashed_config(full_workspace):
    config = by_name(run_scan(full_workspace.layout)[0])["legacy-dashed"]

    assert config["model_family"] == "flux"
    assert config["output"] == str(full_workspace.output_dir / "models")
    assert config["output_rule"] == "output_dir"
    assert [skipped["id"] for skipped in config["skipped_datasets"]] == [
        "something-special-to-remember-by",
        "another-special-name-for-another-backend",
        "an example backend for text embeds.",
        "alt-embed-cache",
    ]
    assert config["prompt_library"] == str(full_workspace.config_dir / "legacy-dashed" / "user_prompt_library.json")


def test_broken_config_stays_listed(full_workspace):
    config = by_name(run_scan(full_workspace.layout)[0])["broken_1"]

    assert config["format"] == "json"
    assert len(config["errors"]) == 1
    assert "not valid JSON" in config["errors"][0]
    assert config["model_family"] is None
    assert config["family"] == "broken"


def test_broken_config_still_finds_output_by_name(workspace):
    workspace.write_config("broken_1", "config.json", "not json")
    output = workspace.make_output("broken_1")
    workspace.add_checkpoint(output, 10)

    config = by_name(run_scan(workspace.layout)[0])["broken_1"]

    assert config["output_rule"] == "output/<name>"
    assert config["checkpoints"] == [10]


def test_toml_config_without_tomllib_listed(workspace, monkeypatch):
    from ppdesk.core import configs

    workspace.write_config("toml_1", "config.toml", 'model_family = "sdxl"\n')
    monkeypatch.setattr(configs, "tomllib", None)

    config = by_name(run_scan(workspace.layout)[0])["toml_1"]

    assert config["format"] == "toml"
    assert config["errors"] == ["TOML config needs Python 3.11+ (tomllib) on the pod"]


def test_env_config_settings_used(workspace):
    images = workspace.simpletuner / "datasets" / "cats"
    images.mkdir(parents=True)
    workspace.write_config(
        "envrun_1",
        "multidatabackend.json",
        [{"id": "cats", "type": "local", "instance_data_dir": str(images)}],
    )
    workspace.write_config(
        "envrun_1",
        "config.env",
        'export MODEL_FAMILY="sdxl"\nexport OUTPUT_DIR="output/env out"\n'
        "export DATALOADER_CONFIG=config/envrun_1/multidatabackend.json\n",
    )
    output = workspace.make_output("env out")

    config = by_name(run_scan(workspace.layout)[0])["envrun_1"]

    assert config["format"] == "env"
    assert config["model_family"] == "sdxl"
    assert config["output"] == str(output)
    assert config["output_rule"] == "output_dir"
    assert config["datasets"] == [str(images)]


def test_scan_output_has_no_credentials(full_workspace):
    data, lines = run_scan(full_workspace.layout)

    text = json.dumps(data) + json.dumps(lines)
    for secret in ("wpz-764e9734523434", "xyz-sdajkhfhakhfjd", "something-yummy", "https://foo.bar/"):
        assert secret not in text


def test_samples_counted_without_opening(workspace):
    workspace.write_config("run_1", "config.json", {"output_dir": "output/run_1"})
    output = workspace.make_output("run_1")
    names = [f"step_{step}_portrait_{index}_512x512.png" for step in range(0, 500, 100) for index in range(3)]
    workspace.add_samples(output, names, content=b"")

    config = by_name(run_scan(workspace.layout)[0])["run_1"]

    assert config["validation_samples"] == 15
    assert config["unrecognised_samples"] == 0


def test_scan_many_configs(workspace):
    for number in range(1, 201):
        workspace.write_config(f"bulk_{number}", "config.json", {"output_dir": f"output/bulk_{number}"})

    data, lines = run_scan(workspace.layout)

    assert len(data["configs"]) == 200
    assert data["configs"][1]["name"] == "bulk_2"
    assert data["configs"][9]["name"] == "bulk_10"
    assert data["families"]["bulk"][-1] == "bulk_200"
    assert len(lines) == 200


def test_missing_config_folder_is_workspace_error(tmp_path):
    from ppdesk.core.layout import WorkspaceLayout

    layout = WorkspaceLayout.from_root(str(tmp_path / "nowhere"))

    data, lines = run_scan(layout)

    assert data["configs"] == []
    assert data["families"] == {}
    assert len(data["errors"]) == 1
    assert data["errors"][0].startswith(f"config folder not found: {layout.config_dir}")
    assert lines == []


def test_load_config_returns_same_dict(full_workspace):
    scanned = by_name(run_scan(full_workspace.layout)[0])["examples/flux.peft-lora"]

    loaded = load_config(full_workspace.layout, "examples/flux.peft-lora")

    assert loaded == scanned


def test_load_config_unknown_name(full_workspace):
    with pytest.raises(AgentFailure) as caught:
        load_config(full_workspace.layout, "nobody_1")

    assert caught.value.kind == "not_found"
    assert caught.value.message == f"config 'nobody_1' not found in {full_workspace.layout.config_dir}"


@pytest.mark.parametrize("name", ["../SimpleTuner/config/legacy-dashed", "examples/../legacy-dashed", "/etc/passwd", ""])
def test_load_config_rejects_unsafe_names(full_workspace, name):
    with pytest.raises(AgentFailure) as caught:
        load_config(full_workspace.layout, name)

    assert caught.value.kind == "invalid_request"


def test_agent_subprocess_scan(full_workspace):
    request = {"op": "scan", "layout": full_workspace.layout.to_dict(), "args": {}}
    env = dict(os.environ, PYTHONPATH=str(REPO))

    completed = subprocess.run(
        [sys.executable, "-m", "ppdesk.core"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=str(REPO),
        env=env,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [line["type"] for line in lines[:-1]] == ["progress"] * 7
    result = lines[-1]
    assert result["type"] == "result"
    assert [config["name"] for config in result["data"]["configs"]][:3] == [
        "broken_1",
        "examples/anima.peft-lora",
        "examples/flux.peft-lora",
    ]
    flux = by_name(result["data"])["examples/flux.peft-lora"]
    assert flux["newest_checkpoint"] == 1000
    assert result["data"]["families"]["sofia"] == ["sofia_v2", "sofia_v10"]
