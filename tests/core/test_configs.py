"""Config discovery and parsing of config.json, config.toml and config.env."""

from __future__ import annotations

import pytest

from ppdesk.core import configs
from ppdesk.core.configs import (
    TOML_UNAVAILABLE,
    ConfigParseError,
    discover_configs,
    find_config_file,
    locate_config,
    parse_env_settings,
    read_config,
    split_config_name,
)

TOML_TEXT = """\
model_family = "sdxl"
output_dir = "output/toml-run"
"--data_backend_config" = "config/toml-run/multidatabackend.json"
learning_rate = 1e-4
max_train_steps = 3000

[extra]
note = "tables survive"
"""


def names_of(discovery):
    return [location.name for location in discovery.locations]


def test_discovery_finds_each_format(workspace):
    workspace.add_fixture_config("simpletuner/flux.peft-lora", "flux.peft-lora")
    workspace.write_config("toml-run", "config.toml", TOML_TEXT)
    workspace.write_config("env-run", "config.env", "export OUTPUT_DIR=output/env-run\n")

    discovery = discover_configs(str(workspace.config_dir))

    by_name = {location.name: location for location in discovery.locations}
    assert sorted(by_name) == ["env-run", "flux.peft-lora", "toml-run"]
    assert by_name["flux.peft-lora"].format == "json"
    assert by_name["flux.peft-lora"].config_file == str(workspace.config_dir / "flux.peft-lora" / "config.json")
    assert by_name["toml-run"].format == "toml"
    assert by_name["env-run"].format == "env"
    assert by_name["env-run"].path == str(workspace.config_dir / "env-run")
    assert discovery.problems == []


def test_json_preferred_over_env_in_same_folder(workspace):
    folder = workspace.add_fixture_config("simpletuner/kontext.peft-lora", "kontext.peft-lora")
    assert (folder / "config.env").is_file()

    assert find_config_file(str(folder)) == (str(folder / "config.json"), "json")


def test_preference_order_json_toml_env(workspace):
    workspace.write_config("all", "config.env", "export OUTPUT_DIR=a\n")
    workspace.write_config("all", "config.toml", TOML_TEXT)
    folder = workspace.config_dir / "all"
    assert find_config_file(str(folder))[1] == "toml"

    workspace.write_config("all", "config.json", {"output_dir": "b"})
    assert find_config_file(str(folder))[1] == "json"


def test_nested_level_is_discovered(workspace):
    workspace.add_fixture_config("simpletuner/flux.peft-lora", "examples/flux.peft-lora")
    workspace.add_fixture_config("simpletuner/anima.peft-lora", "examples/anima.peft-lora")

    discovery = discover_configs(str(workspace.config_dir))

    assert names_of(discovery) == ["examples/anima.peft-lora", "examples/flux.peft-lora"]
    assert discovery.locations[1].path == str(workspace.config_dir / "examples" / "flux.peft-lora")


def test_deeper_levels_are_not_discovered(workspace):
    workspace.write_config("a/b/c", "config.json", {})

    assert names_of(discover_configs(str(workspace.config_dir))) == []


def test_hidden_templates_and_notebook_folders_skipped(workspace):
    for name in [".hidden", ".ipynb_checkpoints", "templates", "examples/templates", "examples/.ipynb_checkpoints"]:
        workspace.write_config(name, "config.json", {"output_dir": "x"})
    workspace.write_config("real_1", "config.json", {})

    assert names_of(discover_configs(str(workspace.config_dir))) == ["real_1"]


def test_folder_without_config_file_not_listed(workspace):
    workspace.write_config("lycoris", "lycoris_config.json", {"algo": "lokr"})
    (workspace.config_dir / "loose.json").write_text("{}", encoding="utf-8")

    assert names_of(discover_configs(str(workspace.config_dir))) == []


def test_config_folder_is_not_searched_deeper(workspace):
    workspace.write_config("outer_1", "config.json", {})
    workspace.write_config("outer_1/inner", "config.json", {})

    assert names_of(discover_configs(str(workspace.config_dir))) == ["outer_1"]


def test_discovery_natural_order(workspace):
    for name in ["x_10", "x_2", "x_1", "group/x_3"]:
        workspace.write_config(name, "config.json", {})

    assert names_of(discover_configs(str(workspace.config_dir))) == ["group/x_3", "x_1", "x_2", "x_10"]


def test_dashed_json_keys_are_normalised(workspace):
    folder = workspace.add_fixture_config("simpletuner/legacy-dashed", "legacy-dashed")

    settings = read_config(str(folder / "config.json"), "json").settings

    assert settings["output_dir"] == "output/models"
    assert settings["data_backend_config"] == "config/multidatabackend.json"
    assert settings["model_family"] == "flux"
    assert settings["max_train_steps"] == 10000
    assert [key for key in settings if key.startswith("-")] == []


def test_modern_json_keys_kept(workspace):
    folder = workspace.add_fixture_config("simpletuner/flux.peft-lora", "flux.peft-lora")

    settings = read_config(str(folder / "config.json"), "json").settings

    assert settings["output_dir"] == "output/examples/flux.peft-lora"
    assert settings["data_backend_config"] == "config/examples/multidatabackend-small-dreambooth-512px.json"
    assert settings["model_family"] == "flux"
    assert settings["validation_prompt"] == "🟫 is holding a sign that says hello world from flux"


def test_easy_json_placeholders_kept_verbatim(workspace):
    folder = workspace.add_fixture_config("easy-scenario", "sofia_v1")

    settings = read_config(str(folder / "config.json"), "json").settings

    assert settings["output_dir"] == "output/{project_name}/{naming_preset}"
    assert settings["user_prompt_library"] == "config/{naming_preset}/user_prompt_library.json"


def test_toml_parsed_with_dashed_key(workspace):
    path = workspace.write_config("toml-run", "config.toml", TOML_TEXT)

    settings = read_config(str(path), "toml").settings

    assert settings["model_family"] == "sdxl"
    assert settings["output_dir"] == "output/toml-run"
    assert settings["data_backend_config"] == "config/toml-run/multidatabackend.json"
    assert settings["learning_rate"] == 1e-4
    assert settings["extra"] == {"note": "tables survive"}


def test_toml_without_tomllib_reports_python_version(workspace, monkeypatch):
    path = workspace.write_config("toml-run", "config.toml", TOML_TEXT)
    monkeypatch.setattr(configs, "tomllib", None)

    with pytest.raises(ConfigParseError) as caught:
        read_config(str(path), "toml")

    assert str(caught.value) == TOML_UNAVAILABLE
    assert str(caught.value) == "TOML config needs Python 3.11+ (tomllib) on the pod"


def test_invalid_toml_names_file(workspace):
    path = workspace.write_config("bad", "config.toml", "output_dir = \n")

    with pytest.raises(ConfigParseError) as caught:
        read_config(str(path), "toml")

    assert str(path) in str(caught.value)
    assert "not valid TOML" in str(caught.value)


def test_env_file_mapped_to_settings():
    text = """\
# trainer settings
export MODEL_FAMILY="flux"
export OUTPUT_DIR='output/my run'   # quoted, with a space
export DATALOADER_CONFIG=config/envrun/multidatabackend.json
TRAINING_NUM_PROCESSES=2
export USER_PROMPT_LIBRARY="config/envrun/user_prompt_library.json"
source ./other.env
echo NOT_A_SETTING=1
    export  VALIDATION_PROMPT="a photo of #1 cat"
"""
    parsed = parse_env_settings(text)

    assert parsed.settings == {
        "model_family": "flux",
        "output_dir": "output/my run",
        "data_backend_config": "config/envrun/multidatabackend.json",
        "training_num_processes": "2",
        "user_prompt_library": "config/envrun/user_prompt_library.json",
        "validation_prompt": "a photo of #1 cat",
    }
    assert parsed.warnings == []


def test_env_unbalanced_quote_line_warned():
    parsed = parse_env_settings('export OUTPUT_DIR="output/x\nexport MODEL_FAMILY=sdxl\n', "config.env")

    assert parsed.settings == {"model_family": "sdxl"}
    assert len(parsed.warnings) == 1
    assert parsed.warnings[0].startswith("config.env line 1 ignored")


def test_env_fixture_from_kontext(workspace):
    folder = workspace.add_fixture_config("simpletuner/kontext.peft-lora", "kontext.peft-lora")

    parsed = read_config(str(folder / "config.env"), "env")

    assert parsed.settings == {"training_num_processes": "1"}


def test_broken_json_raises_parse_error(workspace):
    path = workspace.write_config("broken_1", "config.json", '{"output_dir": "output/x",,}')

    with pytest.raises(ConfigParseError) as caught:
        read_config(str(path), "json")

    assert str(path) in str(caught.value)
    assert "not valid JSON" in str(caught.value)


def test_json_list_rejected(workspace):
    path = workspace.write_config("list_1", "config.json", "[1, 2]")

    with pytest.raises(ConfigParseError) as caught:
        read_config(str(path), "json")

    assert "must contain a JSON object, found list" in str(caught.value)


def test_non_utf8_config_rejected(workspace):
    path = workspace.write_config("latin_1", "config.json", "")
    path.write_bytes(b'{"output_dir": "caf\xe9"}')

    with pytest.raises(ConfigParseError) as caught:
        read_config(str(path), "json")

    assert "not UTF-8" in str(caught.value)


@pytest.mark.parametrize(
    "name",
    ["", "../secrets", "a/../b", "/etc", "C:/x", "a\\b", "a//b", "./a", "a/", "x\x00y"],
)
def test_split_config_name_rejects_unsafe(name):
    with pytest.raises(ValueError):
        split_config_name(name)


def test_split_config_name_accepts_nested():
    assert split_config_name("examples/flux.peft-lora") == ["examples", "flux.peft-lora"]


def test_locate_config_direct_lookup(workspace):
    workspace.add_fixture_config("simpletuner/flux.peft-lora", "examples/flux.peft-lora")
    workspace.write_config("templates", "config.json", {})
    workspace.write_config("a/b/c", "config.json", {})

    location = locate_config(str(workspace.config_dir), "examples/flux.peft-lora")

    assert location is not None
    assert location.format == "json"
    assert location.path == str(workspace.config_dir / "examples" / "flux.peft-lora")
    assert locate_config(str(workspace.config_dir), "examples") is None
    assert locate_config(str(workspace.config_dir), "templates") is None
    assert locate_config(str(workspace.config_dir), "a/b/c") is None
    assert locate_config(str(workspace.config_dir), "missing") is None
