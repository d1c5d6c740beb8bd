"""Output folder rules: output_dir setting, output/<name>, and the easy tool's layout."""

from __future__ import annotations

import os

from ppdesk.core.configs import read_config
from ppdesk.core.outputs import (
    RULE_BY_NAME,
    RULE_EASY,
    RULE_SETTING,
    easy_output_path,
    find_placeholders,
    resolve_output,
)


def settings_of(folder):
    return read_config(str(folder / "config.json"), "json").settings


def test_output_dir_relative_to_simpletuner_root(workspace):
    folder = workspace.add_fixture_config("simpletuner/flux.peft-lora", "examples/flux.peft-lora")
    expected = workspace.make_output("examples/flux.peft-lora")

    resolution = resolve_output(workspace.layout, "examples/flux.peft-lora", settings_of(folder))

    assert resolution.path == str(expected)
    assert resolution.rule == RULE_SETTING
    assert resolution.exists is True
    assert resolution.warnings == []


def test_output_dir_absolute(workspace, tmp_path):
    elsewhere = tmp_path / "elsewhere" / "run"
    elsewhere.mkdir(parents=True)

    resolution = resolve_output(workspace.layout, "abs_1", {"output_dir": str(elsewhere)})

    assert resolution.path == str(elsewhere)
    assert resolution.rule == RULE_SETTING
    assert resolution.exists is True


def test_dashed_output_dir_used(workspace):
    folder = workspace.add_fixture_config("simpletuner/legacy-dashed", "legacy-dashed")
    expected = workspace.make_output("models")

    resolution = resolve_output(workspace.layout, "legacy-dashed", settings_of(folder))

    assert resolution.path == str(expected)
    assert resolution.rule == RULE_SETTING


def test_missing_output_dir_falls_back_to_name(workspace):
    expected = workspace.make_output("sofia_002")

    resolution = resolve_output(workspace.layout, "sofia_002", {"output_dir": "output/moved-away"})

    assert resolution.path == str(expected)
    assert resolution.rule == RULE_BY_NAME
    assert resolution.exists is True
    assert len(resolution.warnings) == 1
    assert str(workspace.output_dir / "moved-away") in resolution.warnings[0]


def test_unset_output_dir_uses_nested_name(workspace):
    expected = workspace.make_output("examples/run_1")

    resolution = resolve_output(workspace.layout, "examples/run_1", {})

    assert resolution.path == str(expected)
    assert resolution.rule == RULE_BY_NAME
    assert resolution.warnings == []


def test_easy_layout_with_placeholder_warning(workspace):
    folder = workspace.add_fixture_config("easy-scenario", "sofia_portrait-v2")
    expected = workspace.make_output("sofia/portrait-v2")

    resolution = resolve_output(workspace.layout, "sofia_portrait-v2", settings_of(folder))

    assert resolution.path == str(expected)
    assert resolution.rule == RULE_EASY
    assert resolution.exists is True
    assert len(resolution.warnings) == 1
    assert "output/{project_name}/{naming_preset}" in resolution.warnings[0]
    assert "placeholders" in resolution.warnings[0]


def test_easy_rest_keeps_later_underscores(workspace):
    expected = workspace.make_output("sofia/001_lr1e-4")

    resolution = resolve_output(workspace.layout, "sofia_001_lr1e-4", {})

    assert resolution.path == str(expected)
    assert resolution.rule == RULE_EASY


def test_name_rule_wins_over_easy(workspace):
    by_name = workspace.make_output("sofia_v1")
    workspace.make_output("sofia/v1")

    resolution = resolve_output(workspace.layout, "sofia_v1", {})

    assert resolution.path == str(by_name)
    assert resolution.rule == RULE_BY_NAME


def test_nothing_on_disk_keeps_configured_path(workspace):
    resolution = resolve_output(workspace.layout, "fresh_1", {"output_dir": "output/fresh"})

    assert resolution.path == str(workspace.output_dir / "fresh")
    assert resolution.rule == RULE_SETTING
    assert resolution.exists is False
    assert resolution.warnings[0].startswith("output folder not found")


def test_nothing_on_disk_without_setting_is_none(workspace):
    resolution = resolve_output(workspace.layout, "fresh_1", {"output_dir": "output/{run}"})

    assert resolution.path is None
    assert resolution.rule is None
    assert resolution.exists is False
    assert "output/{run}" in resolution.warnings[0]
    assert resolution.warnings[1].startswith("no output folder found")
    assert str(workspace.output_dir / "fresh_1") in resolution.warnings[1]
    assert str(workspace.output_dir / "fresh" / "1") in resolution.warnings[1]


def test_non_text_output_dir_warned(workspace):
    resolution = resolve_output(workspace.layout, "odd", {"output_dir": 42})

    assert resolution.path is None
    assert "output_dir = 42" in resolution.warnings[0]


def test_output_layout_override_used(workspace, tmp_path):
    moved = tmp_path / "big-disk" / "outputs"
    (moved / "run_1").mkdir(parents=True)
    layout = type(workspace.layout).from_root(str(workspace.root), output_dir=str(moved))

    resolution = resolve_output(layout, "run_1", {})

    assert resolution.path == str(moved / "run_1")
    assert resolution.rule == RULE_BY_NAME


def test_find_placeholders_kinds():
    assert find_placeholders("output/{project_name}/{naming_preset}") == ["{project_name}", "{naming_preset}"]
    assert find_placeholders("$HOME/out/${RUN}") == ["$HOME", "${RUN}"]
    assert find_placeholders("output/plain-name") == []


def test_easy_output_path_needs_underscore():
    assert easy_output_path("/o", "plain") is None
    assert easy_output_path("/o", "trailing_") is None
    assert easy_output_path("/o", "grp/anna_v3") == os.path.join("/o", "anna", "v3")
