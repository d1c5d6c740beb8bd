"""Family grouping and natural order of config names."""

from __future__ import annotations

from ppdesk.core.families import family_of, group_families, last_segment, natural_key, sort_names


def test_family_is_prefix_before_first_underscore():
    assert family_of("sofia_001_lr1e-4") == "sofia"
    assert family_of("sofia_002") == "sofia"


def test_family_uses_last_segment_of_nested_name():
    assert family_of("examples/sofia_002") == "sofia"
    assert family_of("group_a/flux.peft-lora") == "flux.peft-lora"
    assert last_segment("examples/flux.peft-lora") == "flux.peft-lora"


def test_name_without_underscore_is_own_family():
    assert family_of("flux.peft-lora") == "flux.peft-lora"
    assert family_of("legacy-dashed") == "legacy-dashed"


def test_leading_underscore_is_own_family():
    assert family_of("_draft") == "_draft"


def test_natural_order_compares_numbers_by_value():
    names = ["x_10", "x_2", "x_1", "X_3", "x_02b"]
    assert sort_names(names) == ["x_1", "x_2", "x_02b", "X_3", "x_10"]


def test_natural_key_mixed_shapes_are_comparable():
    names = ["10", "a", "a10", "a2", "2b", "b"]
    assert sort_names(names) == ["2b", "10", "a", "a2", "a10", "b"]
    assert natural_key("abc") != natural_key("ABC")


def test_group_families_sorted_naturally():
    names = ["sofia_10", "anna_1", "sofia_2", "flux.peft-lora", "examples/sofia_3", "anna_10", "anna_9"]
    groups = group_families(names)
    assert list(groups) == ["anna", "flux.peft-lora", "sofia"]
    assert groups["anna"] == ["anna_1", "anna_9", "anna_10"]
    assert groups["sofia"] == ["examples/sofia_3", "sofia_2", "sofia_10"]
    assert groups["flux.peft-lora"] == ["flux.peft-lora"]


def test_families_ten_after_two():
    groups = group_families(["p10_a", "p2_a", "p1_a"])
    assert list(groups) == ["p1", "p2", "p10"]
