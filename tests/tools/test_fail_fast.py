"""A bad configuration stops every process at start (web, worker, release), with a message
that names the variable or the key; a misspelled variable of ours is reported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from settings import ROOT

DRAMATIQ = str(Path(sys.executable).with_name("dramatiq"))
PROCESSES = {
    "web": [sys.executable, "-m", "hint_api.serve"],
    "worker": [DRAMATIQ, "hint_actors", "--processes", "1", "--threads", "1"],
    "release": [sys.executable, "-m", "scripts.migrate"],
}


def run(process: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'hint.db'}", "PORT": "1"}
    return subprocess.run(PROCESSES[process], cwd=ROOT, env={**base, **env}, capture_output=True, text=True,
                          timeout=120)


def bad_ai_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "ai_config.yaml"
    path.write_text(text)
    return str(path)


CASES = {
    "log level": (lambda tmp: {"LOG_LEVEL": "VERBOSE"}, "LOG_LEVEL"),
    "sandbox layer": (lambda tmp: {"SANDBOX_REQUIRE": "landlok"}, "SANDBOX_REQUIRE"),
    "unknown ai_config key": (lambda tmp: {"AI_CONFIG_PATH": bad_ai_config(tmp, "program_generation:\n  modle: x\n")},
                              "program_generation.modle"),
    "negative n": (lambda tmp: {"AI_CONFIG_PATH": bad_ai_config(tmp, "program_generation:\n  n: -2\n")},
                   "program_generation.n"),
    "yaml syntax": (lambda tmp: {"AI_CONFIG_PATH": bad_ai_config(tmp, "engine: [auto\n")}, "line"),
    "openai without a key": (lambda tmp: {"AI_CONFIG_PATH": bad_ai_config(tmp, "engine: openai\n")}, "OPENAI_API_KEY"),
    "postgres without a broker": (lambda tmp: {"DATABASE_URL": "postgresql://u@127.0.0.1:5432/x"}, "RABBITMQ_URL"),
    "exposed without a token": (lambda tmp: {"HOST": "0.0.0.0"}, "HINT_API_TOKEN"),
}


AI_CONFIG_CASES = {"openai without a key", "unknown ai_config key", "negative n", "yaml syntax"}
# The release step (migrations) reads the settings but not ai_config.yaml.
COMBINATIONS = [(p, c) for p in PROCESSES for c in CASES if not (p == "release" and c in AI_CONFIG_CASES)]


@pytest.mark.parametrize(("process", "case"), COMBINATIONS)
def test_a_bad_configuration_stops_the_process_naming_the_key(process, case, tmp_path):
    env, name = CASES[case]
    done = run(process, env(tmp_path), tmp_path)
    assert done.returncode != 0, done.stdout + done.stderr
    assert name in done.stdout + done.stderr


def test_a_misspelled_variable_is_reported_at_start(tmp_path):
    done = run("release", {"DATABSE_URL": "postgresql://x", "RABBITMQ_ULR": "amqp://y"}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "DATABSE_URL (did you mean DATABASE_URL?)" in done.stderr
    assert "RABBITMQ_ULR (did you mean RABBITMQ_URL?)" in done.stderr
