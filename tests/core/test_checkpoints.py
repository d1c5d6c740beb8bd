"""Checkpoint listing: numeric order, -tmp saves, .guard files and weight preference."""

from __future__ import annotations

from ppdesk.core.checkpoints import WEIGHT_NAMES, final_weights, list_checkpoints, newest_complete


def steps(checkpoints):
    return [checkpoint.step for checkpoint in checkpoints]


def test_steps_sorted_by_number_not_text(workspace):
    output = workspace.make_output("run_1")
    for step in (1000, 900, 50, 10000):
        workspace.add_checkpoint(output, step)

    checkpoints = list_checkpoints(str(output))

    assert steps(checkpoints) == [50, 900, 1000, 10000]
    assert newest_complete(checkpoints).step == 10000


def test_newest_is_1000_not_900(workspace):
    output = workspace.make_output("run_1")
    workspace.add_checkpoint(output, 900)
    workspace.add_checkpoint(output, 1000)

    newest = newest_complete(list_checkpoints(str(output)))

    assert newest.step == 1000
    assert newest.path == str(output / "checkpoint-1000")


def test_tmp_and_other_names_ignored(workspace):
    output = workspace.make_output("run_1")
    workspace.add_checkpoint(output, 500)
    workspace.add_checkpoint(output, 1000, suffix="-tmp")
    (output / "checkpoint-latest").mkdir()
    (output / "checkpoint-abc").mkdir()
    (output / "checkpoint-700").write_bytes(b"a file, not a folder")

    checkpoints = list_checkpoints(str(output))

    assert steps(checkpoints) == [500]


def test_guard_makes_unguarded_incomplete(workspace):
    output = workspace.make_output("run_1")
    workspace.add_checkpoint(output, 100, guard=True)
    workspace.add_checkpoint(output, 200, guard=True)
    workspace.add_checkpoint(output, 300, guard=False)

    checkpoints = list_checkpoints(str(output))

    assert [checkpoint.complete for checkpoint in checkpoints] == [True, True, False]
    assert ".guard" in checkpoints[2].reason
    assert checkpoints[0].reason is None
    assert newest_complete(checkpoints).step == 200


def test_no_guard_anywhere_means_all_complete(workspace):
    output = workspace.make_output("run_1")
    workspace.add_checkpoint(output, 100)
    workspace.add_checkpoint(output, 200)

    checkpoints = list_checkpoints(str(output))

    assert [checkpoint.complete for checkpoint in checkpoints] == [True, True]


def test_checkpoint_without_weights_incomplete(workspace):
    output = workspace.make_output("run_1")
    workspace.add_checkpoint(output, 100)
    workspace.add_checkpoint(output, 200, weights=())

    checkpoints = list_checkpoints(str(output))

    assert checkpoints[1].complete is False
    assert checkpoints[1].weights == []
    assert checkpoints[1].reason.startswith("no weight file")
    assert newest_complete(checkpoints).step == 100


def test_weights_listed_in_preference_order(workspace):
    output = workspace.make_output("run_1")
    folder = workspace.add_checkpoint(
        output,
        100,
        weights=("ema_model.safetensors", "model.safetensors", "pytorch_lora_weights.safetensors"),
    )

    checkpoint = list_checkpoints(str(output))[0]

    assert checkpoint.weights == [
        str(folder / "pytorch_lora_weights.safetensors"),
        str(folder / "model.safetensors"),
        str(folder / "ema_model.safetensors"),
    ]


def test_each_weight_name_alone_counts(workspace):
    output = workspace.make_output("run_1")
    for step, name in enumerate(WEIGHT_NAMES, start=1):
        workspace.add_checkpoint(output, step, weights=(name,))

    checkpoints = list_checkpoints(str(output))

    assert [checkpoint.complete for checkpoint in checkpoints] == [True] * len(WEIGHT_NAMES)
    assert [checkpoint.weights[0].rsplit("/", 1)[1] for checkpoint in checkpoints] == list(WEIGHT_NAMES)


def test_weight_names_constant():
    assert WEIGHT_NAMES == (
        "pytorch_lora_weights.safetensors",
        "adapter_model.safetensors",
        "model.safetensors",
        "diffusion_pytorch_model.safetensors",
        "ema_model.safetensors",
    )


def test_no_complete_checkpoint_gives_none(workspace):
    output = workspace.make_output("run_1")
    workspace.add_checkpoint(output, 100, weights=())

    assert newest_complete(list_checkpoints(str(output))) is None
    assert newest_complete([]) is None


def test_final_weights_in_output_root(workspace):
    output = workspace.make_output("run_1")
    (output / "adapter_model.safetensors").write_bytes(b"a")
    (output / "pytorch_lora_weights.safetensors").write_bytes(b"p")
    (output / "training_metrics.jsonl").write_text("{}\n", encoding="utf-8")
    workspace.add_checkpoint(output, 100)

    assert final_weights(str(output)) == [
        str(output / "pytorch_lora_weights.safetensors"),
        str(output / "adapter_model.safetensors"),
    ]


def test_missing_output_gives_empty_lists(workspace):
    missing = str(workspace.output_dir / "never-trained")

    assert list_checkpoints(missing) == []
    assert final_weights(missing) == []
