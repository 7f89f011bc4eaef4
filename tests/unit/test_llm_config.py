"""`ai_config.yaml`: fail fast with the key named, the original backend's file, the knobs
of the LLM layer (json_output, pricing)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hint_core.ai_config import AIConfigError, ModelPrice, load_ai_config

ROOT = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, text: str):
    path = tmp_path / "ai_config.yaml"
    path.write_text(text)
    return load_ai_config(path)


def refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(AIConfigError) as caught:
        load(tmp_path, text)
    return str(caught.value)


# --- fail fast ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, words",
    [
        ("program_generation:\n  n: -2\n", "'program_generation.n' must be a positive integer"),
        ("program_generation:\n  n: 50\n", "'program_generation.n' must be a positive integer at most 20"),
        (
            "hint_generation:\n  temperature: 3\n",
            "'hint_generation.temperature' must be a non-negative number at most 2",
        ),
        ("hint_generation:\n  modle: gpt-4o\n", "unknown key 'hint_generation.modle'"),
        (
            "hint_generation:\n  json_output: yes please\n",
            "'hint_generation.json_output' must be true or false",
        ),
        ("pricing:\n  currency: ''\n", "'pricing.currency' must be a non-empty string"),
        (
            "pricing:\n  models:\n    gpt-4o: {prompt_per_million: 2.5}\n",
            "'pricing.models.gpt-4o.completion_per_million' is missing",
        ),
        (
            "pricing:\n  models:\n    gpt-4o: {prompt_per_million: 2.5, completion_per_million: -1}\n",
            "'pricing.models.gpt-4o.completion_per_million' must be a non-negative number",
        ),
        (
            "pricing:\n  models:\n    gpt-4o: {prompt: 2.5, completion_per_million: 1}\n",
            "unknown key 'pricing.models.gpt-4o.prompt'",
        ),
        ("pricing:\n  models: [gpt-4o]\n", "'pricing.models' must be a mapping"),
        ("unused_keys: [a]\n", "unknown key 'unused_keys'"),  # internal, not a key of the file
    ],
)
def test_a_bad_value_names_the_key(tmp_path, text, words):
    assert words in refused(tmp_path, text)


def test_a_yaml_syntax_error_names_the_file_line_and_column(tmp_path):
    message = refused(tmp_path, "engine: auto\nhint_generation:\n  model: [gpt-4o\n  temperature: 0.3\n")
    assert str(tmp_path / "ai_config.yaml") in message
    assert "line 4, column" in message and "not valid YAML" in message


def test_a_key_written_twice_is_refused(tmp_path):
    message = refused(tmp_path, "hint_generation:\n  model: a\n  temperature: 0.1\n  model: b\n")
    assert "the key 'model' is written twice" in message and "line 4" in message


def test_the_shipped_file_asks_for_json_and_prices_its_models():
    config = load_ai_config(ROOT / "ai_config" / "ai_config.yaml")
    assert config.program_generation.json_output and config.hint_generation.json_output
    assert config.pricing.currency == "USD"
    for phase in (config.program_generation, config.hint_generation):
        assert phase.model in config.pricing.models
    assert config.unused_keys == ()


def test_prices_and_json_output_are_read(tmp_path):
    config = load(
        tmp_path,
        (
            "hint_generation:\n  json_output: false\n"
            "pricing:\n  currency: EUR\n  models:\n"
            "    local-llama: {prompt_per_million: 0, completion_per_million: 0}\n"
        ),
    )
    assert config.hint_generation.json_output is False and config.program_generation.json_output is True
    assert config.pricing.currency == "EUR"
    assert config.pricing.models == {"local-llama": ModelPrice(0.0, 0.0)}


# --- the original backend's file --------------------------------------------------------------

ORIGINAL = """\
program_generation_model:
  name: gpt-4o-mini
  temperature: 0.8
  n_programs: 3
hint_generation_model:
  name: gpt-4o
  temperature: 0.3
"""


def test_the_original_backends_file_is_accepted(tmp_path):
    config = load(tmp_path, ORIGINAL)
    program, hint = config.program_generation, config.hint_generation
    assert (program.model, program.temperature, program.n) == ("gpt-4o-mini", 0.8, 3)
    assert (hint.model, hint.temperature) == ("gpt-4o", 0.3)
    assert program.max_tokens == 2000 and hint.max_tokens == 800  # our defaults for the rest
    assert config.unused_keys == ()


def test_keys_the_original_ignored_are_reported_as_unused(tmp_path, caplog):
    text = (
        ORIGINAL.replace("  n_programs: 3\n", "  n_programs: 3\n  top_p: 0.9\n")
        + "prompt_templates: {plan: x}\n"
    )
    with caplog.at_level(logging.WARNING, logger="hint_core.ai_config"):
        config = load(tmp_path, text)
    assert config.unused_keys == ("program_generation_model.top_p", "prompt_templates")
    assert "program_generation_model.top_p, prompt_templates" in caplog.text
    assert config.program_generation.n == 3


@pytest.mark.parametrize(
    "old, new, words",
    [
        (
            "temperature: 0.8",
            "temperature: 2.5",
            "'program_generation_model.temperature' must be a non-negative number",
        ),
        (
            "n_programs: 3",
            "n_programs: 0",
            "'program_generation_model.n_programs' must be a positive integer",
        ),
        (
            "n_programs: 3",
            "n_programs: 21",
            "'program_generation_model.n_programs' must be a positive integer at most 20",
        ),
        ("name: gpt-4o\n", "name: ''\n", "'hint_generation_model.name' must be a non-empty string"),
        (
            "hint_generation_model:\n  name: gpt-4o\n  temperature: 0.3\n",
            "hint_generation_model: gpt-4o\n",
            "'hint_generation_model' must be a mapping",
        ),
    ],
)
def test_a_bad_value_in_the_original_shape_names_the_original_key(tmp_path, old, new, words):
    assert words in refused(tmp_path, ORIGINAL.replace(old, new))


def test_both_shapes_may_be_mixed_but_not_set_one_value_twice(tmp_path):
    config = load(tmp_path, ORIGINAL + "engine: openai\nhint_generation:\n  max_tokens: 500\n")
    assert config.engine == "openai" and config.hint_generation.max_tokens == 500
    assert config.hint_generation.model == "gpt-4o"
    message = refused(tmp_path, ORIGINAL + "hint_generation:\n  model: other\n")
    assert "'hint_generation_model.name' and 'hint_generation.model' set the same value" in message


def test_in_our_own_shape_an_unknown_top_level_key_is_still_an_error(tmp_path):
    assert "unknown key 'prompt_templates'" in refused(tmp_path, "engine: auto\nprompt_templates: {}\n")
