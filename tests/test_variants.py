"""Variants: one model with other settings, parsed from `alias@k=v,k=v` (the CLI's -m and the TUI picker)."""

from __future__ import annotations

import pytest

from playground.config.variants import Variant, VariantError, parse_variant


@pytest.mark.parametrize(("text", "expected"), [
    ("smollm2", Variant("smollm2")),
    ("smollm2@temperature=1.2", Variant("smollm2", temperature=1.2)),
    ("smollm2@max_tokens=40,temperature=0", Variant("smollm2", temperature=0.0, max_tokens=40)),
    ("smollm2@temperature=0.5,system=Be brief, in French. a=b", Variant("smollm2", temperature=0.5,
                                                                    system="Be brief, in French. a=b")),
    ("llama3.2@http://127.0.0.1:11434/v1", Variant("llama3.2", "http://127.0.0.1:11434/v1")),
    ("llama3.2@http://127.0.0.1:8080/v1@temperature=1", Variant("llama3.2", "http://127.0.0.1:8080/v1", 1.0)),
])
def test_a_variant_reads_back_from_its_label(text, expected):
    variant = parse_variant(text)
    assert variant == expected
    assert parse_variant(variant.label) == variant


def test_a_variant_with_a_base_is_served_by_the_model_added_for_that_base():
    # Session.add_model("llama3.2", base) names its catalog entry "llama3.2@<base>".
    assert parse_variant("llama3.2@http://h:1/v1@temperature=1").target == "llama3.2@http://h:1/v1"
    assert parse_variant("smollm2@temperature=1").target == "smollm2"


@pytest.mark.parametrize(("text", "says"), [
    ("smollm2@temp=1", "unknown setting 'temp'"),
    ("smollm2@temperature=3", "temperature must be a number from 0 to 2"),
    ("smollm2@temperature=hot", "temperature must be a number from 0 to 2, not 'hot'"),
    ("smollm2@max_tokens=0", "max_tokens must be a whole number of at least 1"),
    ("smollm2@temperature=1,temperature=2", "temperature given twice"),
    ("smollm2@", "nothing after '@'"),
    ("smollm2@hot", "'hot' is not key=value"),
    ("smollm2@system=", "system= needs a prompt"),
    ("@temperature=1", "no model before '@'"),
])
def test_a_malformed_variant_says_what_is_wrong_on_one_line(text, says):
    with pytest.raises(VariantError) as raised:
        parse_variant(text)
    assert says in str(raised.value) and repr(text) in str(raised.value) and "\n" not in str(raised.value)
