"""Settings from the environment and ai_config.yaml validation."""

from __future__ import annotations

import pytest

from hint_core.ai_config import AIConfigError, load_ai_config
from settings import ROOT, SettingsError, load_settings


def test_embedded_defaults():
    s = load_settings({})
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("var/hint.db")
    assert s.embedded_broker and not (s.openai_api_key or s.openai_base_url)
    assert s.task_queue == "task_queue" and s.queue_max_priority == 5 and s.port == 8001
    p = s.priorities
    assert p.run_student_program < p.generate_hint < p.return_hint  # started requests finish first


def test_database_url_wins_over_db_variables():
    s = load_settings({"DATABASE_URL": "postgresql://a@h/x", "DB_NAME": "other"})
    assert s.database_url == "postgresql://a@h/x"


def test_db_variables_build_a_url_with_escaped_password():
    s = load_settings({"DB_NAME": "hint", "DB_USERNAME": "svc", "DB_PASSWORD": "p@ss:w/rd", "DB_HOST": "db", "DB_PORT": "5433"})
    assert s.database_url == "postgresql://svc:p%40ss%3Aw%2Frd@db:5433/hint"


def test_rabbitmq_host_and_priorities():
    s = load_settings({"RABBITMQ_HOST": "mq", "QUEUE_MAX_PRIORITY": "9", "GENERATE_HINT_PRIORITY": "8"})
    assert s.rabbitmq_url == "amqp://guest:guest@mq:5672/" and not s.embedded_broker
    assert s.priorities.generate_hint == 8


@pytest.mark.parametrize("env, name", [
    ({"QUEUE_MAX_PRIORITY": "many"}, "QUEUE_MAX_PRIORITY"),
    ({"QUEUE_MAX_PRIORITY": "3", "RETURN_HINT_PRIORITY": "4"}, "RETURN_HINT_PRIORITY"),
    ({"PORT": "0"}, "PORT"),
    ({"REFLECTION_WAIT_SECONDS": "soon"}, "REFLECTION_WAIT_SECONDS"),
])
def test_bad_values_name_the_variable(env, name):
    with pytest.raises(SettingsError, match=name):
        load_settings(env)


def test_secrets_stay_out_of_repr():
    s = load_settings({"OPENAI_API_KEY": "sk-very-secret", "HINT_API_TOKEN": "tok-secret"})
    assert "sk-very-secret" not in repr(s) and "tok-secret" not in repr(s)


def test_shipped_ai_config_is_valid():
    config = load_ai_config(ROOT / "ai_config" / "ai_config.yaml")
    assert config.program_generation.n >= 1
    assert config.use_llm(llm_configured=False) is (config.engine == "openai")


@pytest.mark.parametrize("text, key", [
    ("engine: gpt\n", "engine"),
    ("program_generation:\n  modle: x\n", "program_generation.modle"),
    ("hint_generation:\n  temperature: hot\n", "hint_generation.temperature"),
    ("program_generation:\n  n: 0\n", "program_generation.n"),
    ("surprise: 1\n", "surprise"),
    ("prompts: [1]\n", "prompts"),
])
def test_bad_ai_config_names_the_key(tmp_path, text, key):
    path = tmp_path / "ai_config.yaml"
    path.write_text(text)
    with pytest.raises(AIConfigError, match=key.replace(".", r"\.")):
        load_ai_config(path)


def test_partial_ai_config_keeps_defaults(tmp_path):
    path = tmp_path / "ai_config.yaml"
    path.write_text("hint_generation:\n  model: local-llama\n")
    config = load_ai_config(path)
    assert config.hint_generation.model == "local-llama"
    assert config.hint_generation.max_tokens > 0
