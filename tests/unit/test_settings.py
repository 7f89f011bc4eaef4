"""Settings from the environment and ai_config.yaml validation."""

from __future__ import annotations

import pytest

from hint_core.ai_config import AIConfigError, load_ai_config
from hint_core.lifecycle import Step
from settings import ROOT, SettingsError, load_settings


def test_embedded_defaults():
    s = load_settings({})
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("var/hint.db")
    assert s.embedded_broker and not (s.openai_api_key or s.openai_base_url)
    assert s.task_queue == "task_queue" and s.queue_max_priority == 5 and s.port == 8001
    p = s.priority
    assert p(Step.RUN_STUDENT_PROGRAM) < p(Step.GENERATE_HINT) < p(Step.RETURN_HINT)  # started requests finish first


MQ = {"RABBITMQ_URL": "amqp://guest:guest@mq:5672/"}  # PostgreSQL without a broker is refused


def test_database_url_wins_over_db_variables():
    s = load_settings({"DATABASE_URL": "postgresql://a@h/x", "DB_NAME": "other", **MQ})
    assert s.database_url == "postgresql://a@h/x"


def test_db_variables_build_a_url_with_escaped_password():
    s = load_settings({"DB_NAME": "hint", "DB_USERNAME": "svc", "DB_PASSWORD": "p@ss:w/rd", "DB_HOST": "db",
                       "DB_PORT": "5433", **MQ})
    assert s.database_url == "postgresql://svc:p%40ss%3Aw%2Frd@db:5433/hint"


def test_rabbitmq_host_and_priorities():
    s = load_settings({"RABBITMQ_HOST": "mq", "QUEUE_MAX_PRIORITY": "9", "GENERATE_HINT_PRIORITY": "8"})
    assert s.rabbitmq_url == "amqp://guest:guest@mq:5672/" and not s.embedded_broker
    assert s.priority(Step.GENERATE_HINT) == 8


@pytest.mark.parametrize("env, name", [
    ({"QUEUE_MAX_PRIORITY": "many"}, "QUEUE_MAX_PRIORITY"),
    ({"QUEUE_MAX_PRIORITY": "3", "RETURN_HINT_PRIORITY": "4"}, "RETURN_HINT_PRIORITY"),
    ({"PORT": "0"}, "PORT"),
    ({"WORKER_METRICS_PORT": "70000"}, "WORKER_METRICS_PORT"),
    ({"WORKER_METRICS_PORT": "ninety"}, "WORKER_METRICS_PORT"),
    ({"REFLECTION_WAIT_SECONDS": "soon"}, "REFLECTION_WAIT_SECONDS"),
])
def test_bad_values_name_the_variable(env, name):
    with pytest.raises(SettingsError, match=name):
        load_settings(env)


def test_secrets_stay_out_of_repr():
    s = load_settings({"OPENAI_API_KEY": "sk-very-secret", "HINT_API_TOKEN": "tok-secret",
                       "DATABASE_URL": "postgresql://hint:db-pass@db/hint", "RABBITMQ_URL": "amqp://u:mq-pass@mq/"})
    for secret in ("sk-very-secret", "tok-secret", "db-pass", "mq-pass"):
        assert secret not in repr(s) and secret in s.secrets()
    assert s.database_label == "postgresql://db:5432/hint"


@pytest.mark.parametrize("env, name", [
    ({"LOG_LEVEL": "VERBOSE"}, "LOG_LEVEL"),
    ({"SANDBOX_REQUIRE": "landlok"}, "SANDBOX_REQUIRE"),
    ({"SANDBOX_REQUIRE": "seccomp", "SANDBOX_DISABLE": "seccomp"}, "SANDBOX_DISABLE"),
    ({"STALL_SECONDS": "nan"}, "STALL_SECONDS"),
    ({"LEASE_SECONDS": "-1"}, "LEASE_SECONDS"),
    ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ({"RABBITMQ_URL": "localhost"}, "RABBITMQ_URL"),
    ({"BACKEND_ORCHESTRATION_SAVE_AI_HINT_URL": "orchestration/save"}, "BACKEND_ORCHESTRATION_SAVE_AI_HINT_URL"),
])
def test_every_bad_value_stops_the_process_naming_its_variable(env, name):
    with pytest.raises(SettingsError, match=name):
        load_settings(env)


def test_a_misspelled_variable_of_ours_is_reported():
    s = load_settings({"DATABSE_URL": "postgresql://x", "RABBITMQ_ULR": "amqp://y", "OPENAI_KEY": "k", "HOME": "/root"})
    assert s.unknown_variables == (
        "DATABSE_URL (did you mean DATABASE_URL?)", "OPENAI_KEY (did you mean OPENAI_API_KEY?)",
        "RABBITMQ_ULR (did you mean RABBITMQ_URL?)",
    )


def test_the_original_backends_database_variable_is_honoured():
    s = load_settings({"HINT_BACKEND_DATABASE_URL": "postgresql://h@db/hint", **MQ})
    assert s.database_url == "postgresql://h@db/hint" and s.unknown_variables == ()


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


def test_an_openai_engine_without_an_llm_configured_stops_the_process(tmp_path):
    from hint_core.errors import ConfigError
    from runtime import make_services

    config = tmp_path / "ai_config.yaml"
    config.write_text("engine: openai\n")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make_services(load_settings({"AI_CONFIG_PATH": str(config)}))
    assert make_services(load_settings({"AI_CONFIG_PATH": str(config), "OPENAI_BASE_URL": "http://llm:8000/v1"})).llm
