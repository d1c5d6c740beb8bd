"""Dataset folders from real data backend files, and the prompt library."""

from __future__ import annotations

import json

from ppdesk.core.configs import read_config
from ppdesk.core.datasets import resolve_datasets, resolve_prompt_library

AWS_SECRETS = ("wpz-764e9734523434", "xyz-sdajkhfhakhfjd", "something-yummy", "foo.bar")


def settings_of(folder):
    return read_config(str(folder / "config.json"), "json").settings


def skipped_by_id(resolution):
    return {skipped.id: skipped.reason for skipped in resolution.skipped}


def test_legacy_backends_local_aws_text_embeds(workspace):
    folder = workspace.add_fixture_config("simpletuner/legacy-dashed", "legacy-dashed")

    resolution = resolve_datasets(workspace.layout, str(folder), settings_of(folder))

    # data_backend_config names config/multidatabackend.json, which does not exist,
    # so the config folder's own file is read.
    assert resolution.backend_file == str(folder / "multidatabackend.json")
    assert any("config/multidatabackend.json" in warning for warning in resolution.warnings)
    assert resolution.datasets == []
    reasons = skipped_by_id(resolution)
    assert reasons["something-special-to-remember-by"] == "folder not found: /path/to/data/tree"
    assert reasons["another-special-name-for-another-backend"] == "type 'aws' is not a local folder"
    assert reasons["an example backend for text embeds."].startswith("dataset_type text_embeds")
    assert reasons["alt-embed-cache"].startswith("dataset_type text_embeds")


def test_legacy_local_backend_kept_when_folder_exists(workspace, tmp_path):
    folder = workspace.add_fixture_config("simpletuner/legacy-dashed", "legacy-dashed")
    images = tmp_path / "data" / "tree"
    images.mkdir(parents=True)
    backend_path = folder / "multidatabackend.json"
    backends = json.loads(backend_path.read_text(encoding="utf-8"))
    backends[0]["instance_data_dir"] = str(images)
    backend_path.write_text(json.dumps(backends), encoding="utf-8")

    resolution = resolve_datasets(workspace.layout, str(folder), settings_of(folder))

    assert resolution.datasets == [str(images)]
    assert "something-special-to-remember-by" not in skipped_by_id(resolution)
    assert len(resolution.skipped) == 3


def test_anima_huggingface_and_text_embeds_skipped(workspace):
    folder = workspace.add_fixture_config("simpletuner/anima.peft-lora", "examples/anima.peft-lora")

    resolution = resolve_datasets(workspace.layout, str(folder), settings_of(folder))

    assert resolution.backend_file == str(folder / "multidatabackend.json")
    assert resolution.warnings == []
    assert resolution.datasets == []
    reasons = skipped_by_id(resolution)
    assert reasons == {
        "anime-caption-hf": "type 'huggingface' is not a local folder",
        "anima-example-text": "dataset_type text_embeds holds cached embeddings, not images",
    }


def test_multiresolution_folder_counted_once(workspace, copy_fixture):
    backend_path = copy_fixture(
        "simpletuner/multidatabackend-multiresolution.json", workspace.config_dir / "multires_1" / "backends.json"
    )
    backends = json.loads(backend_path.read_text(encoding="utf-8"))
    for backend in backends:
        if "instance_data_dir" in backend:
            backend["instance_data_dir"] = "datasets/dreambooth"
    backend_path.write_text(json.dumps(backends), encoding="utf-8")
    images = workspace.simpletuner / "datasets" / "dreambooth"
    images.mkdir(parents=True)
    settings = {"data_backend_config": "config/multires_1/backends.json"}

    resolution = resolve_datasets(workspace.layout, str(backend_path.parent), settings)

    assert resolution.backend_file == str(backend_path)
    assert resolution.datasets == [str(images)]
    assert [skipped.id for skipped in resolution.skipped] == ["text-embed-cache"]


def test_multiresolution_missing_folder_reported_per_backend(workspace, copy_fixture):
    backend_path = copy_fixture(
        "simpletuner/multidatabackend-multiresolution.json", workspace.config_dir / "multires_1" / "multidatabackend.json"
    )

    resolution = resolve_datasets(workspace.layout, str(backend_path.parent), {})

    assert resolution.datasets == []
    reasons = skipped_by_id(resolution)
    assert reasons["dreambooth-512"] == "folder not found: /home/user/simpletuner/data/dreambooth"
    assert reasons["dreambooth-1024-crop"] == "folder not found: /home/user/simpletuner/data/dreambooth"


def test_video_and_dreambooth_huggingface_skipped(workspace, copy_fixture, tmp_path):
    video = copy_fixture("simpletuner/multidatabackend-video.json", tmp_path / "backends" / "video.json")
    dreambooth = copy_fixture(
        "simpletuner/multidatabackend-small-dreambooth-1024px.json", tmp_path / "backends" / "dreambooth.json"
    )
    config_folder = str(workspace.config_dir / "none")

    video_result = resolve_datasets(workspace.layout, config_folder, {"data_backend_config": str(video)})
    dreambooth_result = resolve_datasets(workspace.layout, config_folder, {"data_backend_config": str(dreambooth)})

    assert video_result.backend_file == str(video)
    assert skipped_by_id(video_result) == {"cosmos3-disney-video-480-49f": "type 'huggingface' is not a local folder"}
    assert dreambooth_result.datasets == []
    assert skipped_by_id(dreambooth_result)["dreambooth-1024"] == "type 'huggingface' is not a local folder"


def test_disabled_and_odd_entries_skipped(workspace):
    images = workspace.simpletuner / "datasets" / "cats"
    images.mkdir(parents=True)
    backends = [
        {"id": "off", "type": "local", "instance_data_dir": "datasets/cats", "disabled": True},
        {"id": "untyped", "instance_data_dir": "datasets/cats"},
        {"id": "no-folder", "type": "local"},
        {"id": "templated", "type": "local", "instance_data_dir": "datasets/{subject}"},
        "not an object",
        {"type": "csv", "csv_file": "list.csv"},
        {"id": "cats", "type": "local", "instance_data_dir": "datasets/cats/"},
    ]
    path = workspace.write_config("odd_1", "multidatabackend.json", backends)

    resolution = resolve_datasets(workspace.layout, str(path.parent), {})

    assert resolution.datasets == [str(images)]
    assert skipped_by_id(resolution) == {
        "off": "disabled",
        "untyped": "no type given",
        "no-folder": "local backend without instance_data_dir",
        "templated": "instance_data_dir 'datasets/{subject}' contains unresolved placeholders ({subject})",
        "backend #5": "entry is not a JSON object",
        "backend #6": "type 'csv' is not a local folder",
    }


def test_no_backend_file_warns(workspace):
    folder = workspace.config_dir / "bare_1"
    folder.mkdir()

    resolution = resolve_datasets(workspace.layout, str(folder), {})

    assert resolution.backend_file is None
    assert resolution.datasets == []
    assert "multidatabackend.json does not exist" in resolution.warnings[0]


def test_broken_backend_file_warns(workspace):
    path = workspace.write_config("bad_1", "multidatabackend.json", "[{]")

    resolution = resolve_datasets(workspace.layout, str(path.parent), {})

    assert resolution.backend_file == str(path)
    assert resolution.datasets == []
    assert "not valid JSON" in resolution.warnings[0]


def test_backend_object_instead_of_list_warns(workspace):
    path = workspace.write_config("bad_1", "multidatabackend.json", {"id": "x"})

    resolution = resolve_datasets(workspace.layout, str(path.parent), {})

    assert "must contain a JSON list, found dict" in resolution.warnings[0]


def test_reasons_never_contain_credentials(workspace):
    folder = workspace.add_fixture_config("simpletuner/legacy-dashed", "legacy-dashed")

    resolution = resolve_datasets(workspace.layout, str(folder), settings_of(folder))

    text = json.dumps([skipped.to_dict() for skipped in resolution.skipped]) + json.dumps(resolution.warnings)
    for secret in AWS_SECRETS:
        assert secret not in text


def test_prompt_library_from_setting(workspace):
    folder = workspace.add_fixture_config("simpletuner/anima.peft-lora", "examples/anima.peft-lora")
    warnings = []

    library = resolve_prompt_library(workspace.layout, str(folder), settings_of(folder), warnings)

    assert library == str(folder / "user_prompt_library.json")
    assert warnings == []


def test_prompt_library_setting_elsewhere(workspace, tmp_path):
    folder = workspace.add_fixture_config("simpletuner/flux.peft-lora", "flux.peft-lora")
    library_file = tmp_path / "prompts.json"
    library_file.write_text("{}", encoding="utf-8")
    warnings = []

    library = resolve_prompt_library(
        workspace.layout, str(folder), {"user_prompt_library": str(library_file)}, warnings
    )

    assert library == str(library_file)


def test_prompt_library_fallback_in_config_folder(workspace):
    folder = workspace.add_fixture_config("simpletuner/legacy-dashed", "legacy-dashed")
    warnings = []

    library = resolve_prompt_library(workspace.layout, str(folder), settings_of(folder), warnings)

    assert library == str(folder / "user_prompt_library.json")
    assert warnings == []


def test_prompt_library_placeholder_falls_back(workspace):
    folder = workspace.add_fixture_config("easy-scenario", "sofia_v1")
    warnings = []

    assert resolve_prompt_library(workspace.layout, str(folder), settings_of(folder), warnings) is None
    assert "config/{naming_preset}/user_prompt_library.json" in warnings[0]

    (folder / "user_prompt_library.json").write_text('{"portrait": "a portrait"}', encoding="utf-8")
    assert resolve_prompt_library(workspace.layout, str(folder), settings_of(folder), []) == str(
        folder / "user_prompt_library.json"
    )


def test_prompt_library_missing_setting_file_warns(workspace):
    folder = workspace.add_fixture_config("simpletuner/flux.peft-lora", "flux.peft-lora")
    warnings = []

    library = resolve_prompt_library(
        workspace.layout, str(folder), {"user_prompt_library": "config/gone.json"}, warnings
    )

    assert library is None
    assert warnings == [f"prompt library {workspace.config_dir / 'gone.json'} from user_prompt_library not found"]


def test_prompt_library_none_without_file(workspace):
    folder = workspace.add_fixture_config("simpletuner/flux.peft-lora", "flux.peft-lora")

    assert resolve_prompt_library(workspace.layout, str(folder), settings_of(folder), []) is None
